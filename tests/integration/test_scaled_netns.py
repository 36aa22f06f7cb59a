"""A Rasa replica on another host, as far as the network goes: it runs in a network namespace of its own
with its own address on a veth link, and reaches PostgreSQL, Redis, RabbitMQ and the action server at
the host's address on that link. Inside the namespace 127.0.0.1 is the namespace's own loopback, where
nothing listens: whatever assumed localhost would fail here.

PostgreSQL, Redis and RabbitMQ on this machine listen on 127.0.0.1 only. Rather than change their
configuration (a listen address, pg_hba.conf, a restart) the test puts a socat forwarder on the host's
link address for each (the least invasive choice: nothing of the machine changes, and PostgreSQL sees
its usual local clients); the action server listens on the link address itself. Everything (namespace,
veth pair, forwarders, processes, database, queue) is removed after the test.

Skipped, saying why, where network namespaces cannot be made (not root, or a container without the
capability) or a service is missing."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import List

import aio_pika
import psycopg2
import pytest
import requests
import socketio

from common import conversation_ids
from common.settings import free_port, throwaway_settings
from rasa_plugins.channels import SOCKETIO_CHANNEL
from tools import launcher, scaled
from tools.widget_client import WidgetClient

from .test_scaled_system import run_async


async def _drain(url: str, name: str) -> List[dict]:
    """Every event waiting in the queue (taken off it): no analytics consumer runs beside this replica."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    events_queue = await channel.declare_queue(name, durable=True)
    events = []
    while True:
        message = await events_queue.get(no_ack=True, fail=False)
        if message is None:
            break
        events.append(json.loads(message.body))
    await connection.close()
    return events


SERVICE_PORTS = (5432, 6379, 5672)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def namespace():
    """A network namespace linked to the host by a veth pair: (name, host address, its address)."""
    if shutil.which("ip") is None or shutil.which("socat") is None:
        pytest.skip("needs the `ip` and `socat` commands")
    suffix = uuid.uuid4().hex[:6]
    name, host_side, far_side = f"lk{suffix}", f"lkh{suffix}", f"lkn{suffix}"
    subnet = random.randrange(16, 250)
    host_ip, far_ip = f"10.214.{subnet}.1", f"10.214.{subnet}.2"
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"`ip netns add` is not permitted here ({error.stderr.strip()})")
    try:
        _ip("link", "add", host_side, "type", "veth", "peer", "name", far_side)
        _ip("link", "set", far_side, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_side)
        _ip("link", "set", host_side, "up")
        for command in (["addr", "add", f"{far_ip}/30", "dev", far_side], ["link", "set", far_side, "up"]):
            _ip("netns", "exec", name, "ip", *command)
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name, host_ip, far_ip
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)  # takes the veth pair with it
        subprocess.run(["ip", "link", "del", host_side], capture_output=True)


@pytest.fixture(scope="module")
def forwarders(namespace):
    """The machine's PostgreSQL, Redis and RabbitMQ on the host's link address."""
    _, host_ip, _ = namespace
    processes: List[subprocess.Popen] = [
        subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={host_ip},reuseaddr,fork", f"TCP:127.0.0.1:{port}"],
            stderr=subprocess.DEVNULL,
        )
        for port in SERVICE_PORTS
    ]
    time.sleep(0.3)
    yield
    for process in processes:
        process.terminate()
        process.wait()


@pytest.fixture(scope="module")
def far_replica(namespace, forwarders, trained_model: Path, tmp_path_factory):
    name, host_ip, far_ip = namespace
    tmp = tmp_path_factory.mktemp("netns")
    database = f"larkspur_netns_{uuid.uuid4().hex[:8]}"
    settings = throwaway_settings(
        tmp,
        SCALED_DATABASE_URL=f"postgresql://postgres@{host_ip}:5432/{database}",
        SCALED_REDIS_URL=f"redis://{host_ip}:6379/0",
        SCALED_RABBITMQ_URL=f"amqp://guest:guest@{host_ip}:5672/%2F",
        EVENT_BROKER_QUEUE=database,
        RASA_REPLICAS=1,
        SCALED_INTERNAL_HOST=far_ip,
        SCALED_PORT_BASE=scaled.free_port_base(),
    )
    missing = [line for line in scaled.problems(settings) if not line.startswith("nginx")]
    if missing:
        pytest.skip("The replica's services are not reachable over the link: " + " ".join(missing))
    run_dir = tmp / "run"
    endpoints = scaled.prepare(settings, run_dir, print)
    layout = scaled.topology(settings)
    # The action server on the host, on the link address, where the replica calls it.
    shared = dataclasses.replace(
        scaled.shared_settings(settings, layout), action_server_host=host_ip, action_server_port=free_port()
    )
    actions = launcher.start_action_server(shared, log_dir=run_dir / "logs")
    replica = scaled.rasa_replica_settings(shared, layout, layout.rasa_ports[0])
    rasa = launcher.start_rasa(
        replica, trained_model, run_dir / "logs", endpoints, number=1, wrapper=["ip", "netns", "exec", name]
    )
    try:
        for service in (actions, rasa):
            launcher.wait_until_up(service, timeout=240)
        launcher.wait_for_model(replica, timeout=240)
        yield replica, rasa
    finally:
        rasa.stop()
        actions.stop()
        here = dataclasses.replace(  # the same database and queue, reached on this host
            settings,
            scaled_database_url=f"postgresql://postgres@127.0.0.1:5432/{database}",
            scaled_rabbitmq_url="amqp://guest:guest@127.0.0.1:5672/%2F",
        )
        scaled.drop_throwaway_services(here)


def test_the_far_replica_answers_and_stores_and_publishes_over_the_link(namespace, far_replica):
    name, host_ip, far_ip = namespace
    replica, rasa = far_replica
    assert replica.rasa_url.startswith(f"http://{far_ip}:")
    conversation = conversation_ids.issue(None, replica.customer_token_secret)
    replies = requests.post(
        f"{replica.rasa_url}/webhooks/rest/webhook",
        json={"sender": conversation, "message": "how long does delivery take?"},
        timeout=60,
    ).json()
    assert any("delivery" in r.get("text", "").lower() for r in replies), replies
    database = replica.scaled_database_url.rsplit("/", 1)[1]
    with psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (conversation,))
        assert cursor.fetchone()[0] == 1  # stored in PostgreSQL, reached through the link
    deadline, events = time.monotonic() + 30, []
    while time.monotonic() < deadline and not any(e.get("sender_id") == conversation for e in events):
        events += run_async(_drain("amqp://guest:guest@127.0.0.1:5672/%2F", replica.event_broker_queue))
        time.sleep(0.5)
    assert any(e.get("sender_id") == conversation and e.get("event") == "user" for e in events)
    # Every connection the replica holds to the services goes to the host's link address.
    sockets = subprocess.run(
        ["ip", "netns", "exec", name, "ss", "-tnpH", "state", "established"], capture_output=True, text=True
    ).stdout
    peers = {line.split()[-2] for line in sockets.splitlines() if f"pid={rasa.process.pid}," in line}
    assert {f"{host_ip}:{port}" for port in SERVICE_PORTS} <= peers, peers
    assert not any(peer.startswith("127.") for peer in peers), peers


def test_a_message_emitted_on_the_host_reaches_a_widget_on_the_far_replica(far_replica):
    replica, _ = far_replica
    widget = WidgetClient(replica.rasa_url, None)
    try:
        session_id = widget.request_session()
        # Another process (here: on the host, through the machine's Redis) emits to the conversation's room,
        # as a replica on another host does with an agent's message.
        manager = socketio.AsyncRedisManager("redis://127.0.0.1:6379/0", channel=SOCKETIO_CHANNEL, write_only=True)
        started = time.monotonic()
        run_async(manager.emit("bot_uttered", {"text": "from another host"}, room=session_id, namespace="/"))
        assert widget.reply()["text"] == "from another host"
        assert time.monotonic() - started < 1.0
    finally:
        widget.close()
