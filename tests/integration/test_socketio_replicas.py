"""Agent messages across Rasa replicas (issue 14, step 2), on a real Redis: two instances of the
product's socket.io channel, as two Rasa replicas build it, with SOCKETIO_REDIS_URL set. A customer's
socket is held by replica A; replica B sends to the conversation's room with Rasa's own output channel
(as it does for an agent's message that reached it over Rasa's HTTP API): A delivers it to the socket."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from rasa.core.channels.socketio import SocketIOOutput
from socketio import packet as socketio_packet

from common.settings import throwaway_settings
from rasa_plugins import channels
from rasa_plugins.channels import SOCKETIO_CHANNEL, GuardedSocketIOInput

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_settings(tmp_path, monkeypatch):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({error}); start it to test several replicas")
    settings = throwaway_settings(tmp_path, SOCKETIO_REDIS_URL=REDIS_URL)
    monkeypatch.setattr(channels, "_settings", lambda: settings)
    return settings


def replica():
    channel = GuardedSocketIOInput(
        user_message_evt="user_uttered", bot_message_evt="bot_uttered", namespace=None, session_persistence=True
    )

    async def on_new_message(message):  # the replica's Rasa would handle a customer's message here
        return None

    channel.blueprint(on_new_message)
    return channel.sio


def test_a_message_sent_on_one_replica_reaches_the_socket_on_another(redis_settings):
    async def scenario():
        holder, sender = replica(), replica()
        assert type(holder.manager).__name__ == "AsyncRedisManager" and holder.manager.channel == SOCKETIO_CHANNEL
        delivered = []

        async def to_socket(eio_sid, eio_packet):  # what the customer's socket would receive
            event, data = socketio_packet.Packet(encoded_packet=eio_packet.data).data
            delivered.append((eio_sid, event, data))

        holder._send_eio_packet = to_socket
        for server in (holder, sender):
            server.manager.initialize()  # subscribes to the Redis channel, as on a replica's first connection
        conversation = f"conversation-{uuid.uuid4().hex[:8]}"
        sid = holder.manager.connect("engine-io-sid-1", "/")  # the customer's socket, on the holder only
        holder.manager.enter_room(sid, "/", conversation)  # the channel puts each socket in its conversation's room
        await asyncio.sleep(0.5)  # both subscribed
        for n in range(40):
            await SocketIOOutput(sender, "bot_uttered").send_text_message(conversation, f"agent message {n}")
        for _ in range(100):
            if len(delivered) >= 40:
                break
            await asyncio.sleep(0.05)
        return delivered

    delivered = asyncio.run(scenario())
    assert [data["text"] for _, event, data in delivered if event == "bot_uttered"] == [
        f"agent message {n}" for n in range(40)
    ]  # all 40, in order, once each
    assert {eio_sid for eio_sid, _, _ in delivered} == {"engine-io-sid-1"}


def test_a_replica_subscribes_at_start_so_its_first_customer_is_answered(redis_settings):
    """python-socketio subscribes on the first connection, in the background: what a freshly restarted
    replica emitted to its first socket before that (the session_confirm) was lost. The channel
    subscribes when the server starts instead."""

    async def scenario():
        server = replica()
        subscribers = redis.Redis.from_url(REDIS_URL)
        before = dict(subscribers.pubsub_numsub(SOCKETIO_CHANNEL))[SOCKETIO_CHANNEL.encode()]
        await channels.listening_to_other_replicas(server)
        after = dict(subscribers.pubsub_numsub(SOCKETIO_CHANNEL))[SOCKETIO_CHANNEL.encode()]
        delivered = []

        async def to_socket(eio_sid, eio_packet):
            delivered.append(socketio_packet.Packet(encoded_packet=eio_packet.data).data)

        server._send_eio_packet = to_socket
        sid = server.manager.connect("engine-io-sid-first", "/")
        server.manager.enter_room(sid, "/", "first-conversation")
        await server.emit("session_confirm", "first-conversation", room="first-conversation")  # at once
        for _ in range(40):
            if delivered:
                break
            await asyncio.sleep(0.05)
        server.manager.thread.cancel()
        return before, after, delivered

    before, after, delivered = asyncio.run(scenario())
    assert after == before + 1
    assert delivered == [["session_confirm", "first-conversation"]]
