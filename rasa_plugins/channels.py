"""Rasa input channels that screen what customers send before the bot sees it.

Both the REST and the socket.io (website widget) channels get the same rules, from one function:
control characters are removed, and empty or oversized messages are answered with a clear message
instead of reaching the NLU pipeline. On REST, a body that is not a JSON object, or a sender or
message of the wrong type, gets a JSON 4xx.

Both also bind conversations to identities (common/conversation_ids.py): a customer's token
opens only that customer's conversations, and a conversation issued to a customer cannot be read or
written without their token. On REST the token travels in each request's metadata; on socket.io it
is given once, when the socket connects (`?customer_token=` in the socket URL), and the server
issues or confirms the session id in `session_confirm`.

Message metadata from clients is reduced to the customer's token (Rasa stores metadata with every
message), and a REST request over 1 MB is refused (413).

Configured in bot/credentials.yml in place of Rasa's own `rest` and `socketio` channels; the
webhook paths stay the same (/webhooks/rest/webhook, /socket.io).

python-socketio is pinned below 5.10 (requirements.in). Rasa's own channel, which first needed it, is
no longer used, but this one still relies on it: from 5.10 on `AsyncServer.enter_room`/`leave_room`
are coroutines, and Rasa 3.6's `SocketIOOutput` and `SocketBlueprint` were written against the 5.x
releases Rasa pins; moving past 5.10 means awaiting those calls here and checking Rasa's classes with
the newer python-engineio under Sanic 21.12, with the browser tests as the judge.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.core.constants import USER_INTENT_BACK, USER_INTENT_RESTART, USER_INTENT_SESSION_START
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from socketio import AsyncRedisManager, AsyncServer

from common import conversation_ids
from common.database import Database
from common.names import CUSTOMER_TOKEN_KEY
from common.screening import DEFAULT_MAX_CHARS, screen_text
from common.settings import Settings, load_settings
from common.tokens import MAX_TOKEN_LENGTH, verify
from escalation.queue.handoffs import HandoffQueue
from rasa_plugins import speedups

logger = logging.getLogger(__name__)
MAX_SENDER_ID_LENGTH = 128
SENDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]+$")

# This module is loaded by every Rasa server of the project (bot/credentials.yml names it).
speedups.install()


def max_message_chars() -> int:
    # The Rasa server gets this from the launcher's environment (settings: MAX_MESSAGE_CHARS).
    return int(os.environ.get("MAX_MESSAGE_CHARS", DEFAULT_MAX_CHARS))


# Payloads of Rasa's control intents run Rasa's own actions: "/restart" wipes the conversation's slots
# (the customer's verified identity with them) and "/back" rewinds it, even in a conversation a person
# has taken over. Customers typing them get them read as words instead.
CONTROL_INTENTS = (USER_INTENT_RESTART, USER_INTENT_BACK, USER_INTENT_SESSION_START)


def without_control_payload(text: str) -> str:
    if text.startswith(INTENT_MESSAGE_PREFIX):
        # Read the intent as Rasa does: up to "{" or "@", then stripped ("/ restart" is "restart" too).
        intent = re.split(r"[{@]", text[len(INTENT_MESSAGE_PREFIX) :], maxsplit=1)[0].strip()
        if intent in CONTROL_INTENTS:
            return text[len(INTENT_MESSAGE_PREFIX) :].strip()
    return text


def screening(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wraps Rasa's message handler: refused messages are answered here and go no further."""
    limit = max_message_chars()

    async def screened_handler(message: UserMessage) -> Any:
        result = screen_text(message.text, limit)
        if result.problem is not None:
            logger.info("Refused a %s message from %s", result.problem, message.sender_id)
            await message.output_channel.send_text_message(message.sender_id, result.reply)
            return None
        message.text = without_control_payload(result.text)
        return await on_new_message(message)

    return screened_handler


class BadRequest(SanicException):
    status_code = 400
    quiet = True


class Forbidden(SanicException):
    status_code = 403
    quiet = True


@lru_cache(maxsize=1)
def _settings() -> Settings:
    return load_settings()  # the Rasa process gets every setting from the launcher's environment


def token_subject(token: Any) -> Optional[str]:
    """The customer a token names, or None (anonymous) when it is missing or does not verify."""
    settings = _settings()
    return verify(token, settings.customer_token_secret, settings.customer_token_issuer).subject


def conversation_secret() -> str:
    return _settings().customer_token_secret


NOT_YOURS = (
    "This conversation belongs to another customer, or to a signed-in customer whose token "
    "was not sent. Start a new conversation (a new sender id) or send the customer's token."
)


def _json_object(request: Request) -> dict:
    try:
        body = request.json
    except Exception:  # sanic raises on invalid JSON or undecodable bytes
        raise BadRequest("The request body must be valid UTF-8 JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest('The request body must be a JSON object like {"sender": "...", "message": "..."}.')
    return body


MAX_REST_BODY_BYTES = 1024 * 1024  # far above any real message; a too-long one still gets a polite answer


def kept_metadata(metadata: Optional[dict]) -> Optional[dict]:
    """Only what the product reads from message metadata (the customer's token) reaches Rasa, which
    stores metadata with every message: a client's other keys would be kept forever, whatever their size."""
    if not metadata:
        return None
    token = metadata.get(CUSTOMER_TOKEN_KEY)
    return {CUSTOMER_TOKEN_KEY: token} if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH else {}


class PayloadTooLarge(SanicException):
    status_code = 413
    quiet = True


class GuardedRestInput(RestInput):
    """Rasa's REST channel with input screening."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, request: Request) -> Optional[Text]:
        sender = _json_object(request).get("sender")
        if (
            not isinstance(sender, str)
            or not sender
            or len(sender) > MAX_SENDER_ID_LENGTH
            or not SENDER_ID_PATTERN.match(sender)
        ):
            raise BadRequest(f'"sender" must be 1 to {MAX_SENDER_ID_LENGTH} letters, digits or ._:@- characters.')
        return sender

    def _extract_message(self, request: Request) -> Optional[Text]:
        message = _json_object(request).get("message")
        if message is not None and not isinstance(message, str):
            raise BadRequest('"message" must be a string.')
        return message

    def get_metadata(self, request: Request) -> Optional[dict]:
        metadata = _json_object(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRequest('"metadata" must be a JSON object.')
        return kept_metadata(metadata)

    def _extract_input_channel(self, request: Request) -> Text:
        # Always this channel: a client must not be able to pose as another one.
        return self.name()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(screening(on_new_message))

        @blueprint.middleware("request")
        async def only_own_conversation(request: Request) -> None:
            # Every POST of this blueprint is the webhook, however its path is spelled: Sanic also
            # routes /webhook/ and /webhook//, so the check must not depend on the path.
            if request.method != "POST":
                return
            if len(request.body or b"") > MAX_REST_BODY_BYTES:
                raise PayloadTooLarge(f"A message request may be at most {MAX_REST_BODY_BYTES // 1024 // 1024} MB.")
            sender = await self._extract_sender(request)
            token = (self.get_metadata(request) or {}).get(CUSTOMER_TOKEN_KEY)
            if not conversation_ids.may_use(sender, token_subject(token), conversation_secret()):
                logger.warning("REST message refused: sender %s is not bound to the token sent", sender)
                raise Forbidden(NOT_YOURS)

        return blueprint


@lru_cache(maxsize=1)
def _handoffs() -> HandoffQueue:
    return HandoffQueue(Database.from_url(_settings().customer_db_url))


async def _chat_window(session_id: str, closed: bool) -> None:
    """Tells the queue that the customer's chat window closed (or is back): a customer waiting for a
    person who stays away past the grace period has left (escalation/queue/routing.py); a reload
    reconnects within it. A conversation with no open handoff is not touched."""
    when = datetime.now(timezone.utc) if closed else None
    try:
        await asyncio.get_running_loop().run_in_executor(None, _handoffs().customer_left, session_id, when)
    except Exception as error:  # the chat itself must not suffer from this
        logger.warning("Could not record the chat window of %s: %s", session_id, error)


SOCKETIO_CHANNEL = "larkspur-socketio"  # the Redis pub/sub channel the replicas share


def message_manager() -> Optional[AsyncRedisManager]:
    """With SOCKETIO_REDIS_URL, python-socketio's Redis manager: every socket is in a room named after
    its conversation, and an emit to that room on any replica (Rasa's output channel sends each reply
    and each agent message to the conversation's room) is published through Redis to the replica that
    holds the socket. Without it, the in-process manager of one Rasa process."""
    url = _settings().socketio_redis_url
    return AsyncRedisManager(url, channel=SOCKETIO_CHANNEL) if url else None


async def listening_to_other_replicas(sio: AsyncServer, timeout: float = 5) -> None:
    """Subscribes the Redis manager to the replicas' channel now, at the server's start. python-socketio
    would do it on the first connection, in the background: what is emitted before the subscription
    is in place (that first socket's session_confirm, or a reply to it) never comes back from Redis, so
    the first customer of a freshly (re)started replica could wait for an answer forever."""
    if not isinstance(sio.manager, AsyncRedisManager) or sio.manager_initialized:
        return
    sio.manager_initialized = True
    sio.manager.initialize()
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        pubsub = getattr(sio.manager, "pubsub", None)
        if pubsub is not None and pubsub.channels:
            return
        await asyncio.sleep(0.02)
    logger.warning("socket.io's Redis manager did not subscribe within %s s; it keeps trying", timeout)


def replica_tag(host: str, port: int) -> str:
    """This replica's address as it starts every engine.io session id (URL-safe; the proxy's map matches it)."""
    return re.sub(r"[^A-Za-z0-9]", "-", f"{host}:{port}")


def tag_sessions_with_this_replica(sio: AsyncServer, tag: str) -> None:
    """Engine.io session ids that say which replica made them: "<tag>.<random id>". A client on the
    long-polling transport (rasa-webchat 1.0 always starts with it: it does not pass protocolOptions
    to socket.io) sends each poll, and its upgrade to a websocket, as a separate request carrying the
    session id; the proxy sends every request with a tagged id to the replica in the tag
    (deploy/nginx.conf.template) and a request without one to any replica. No cookies, no hashing of
    client addresses: new sessions spread evenly, and a session stays where it lives."""
    generate = sio.eio.generate_id
    sio.eio.generate_id = lambda: f"{tag}.{generate()}"


def _query_token(environ: Dict) -> Optional[str]:
    values = parse_qs(environ.get("QUERY_STRING", "")).get(CUSTOMER_TOKEN_KEY)
    return values[0] if values else None


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (used by the website widget) with input screening and conversations
    bound to the identity the socket connected with.

    The protocol is Rasa's (and rasa-webchat's): `session_request` {session_id} is answered with
    `session_confirm`; `user_uttered` {message, session_id, customData}; replies are `bot_uttered`
    to the room named after the session id, which is also the Rasa conversation id. What differs:
    the server confirms the requested session id only when it was issued to this socket's customer,
    and otherwise issues a new one (the widget then starts a fresh chat); messages are accepted only
    for the session this socket was confirmed in; the customer token in the message metadata is the
    one the socket connected with, so the segment always matches the conversation's owner.
    """

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        handle = screening(on_new_message)
        # Origins are checked by the Rasa server's CORS settings, as in Rasa's own channel.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=message_manager())
        if sio.manager is not None and isinstance(sio.manager, AsyncRedisManager):
            tag_sessions_with_this_replica(sio, replica_tag(_settings().rasa_host, _settings().rasa_port))
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio  # Rasa's get_output_channel() uses it to push agents' messages
        connections: Dict[str, Dict[str, Any]] = {}  # socket id -> token, customer, confirmed session

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @webhook.listener("after_server_start")
        async def subscribe_before_customers_connect(_app: Any, _loop: Any) -> None:
            await listening_to_other_replicas(sio)

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            token = (auth or {}).get(CUSTOMER_TOKEN_KEY) if isinstance(auth, dict) else None
            token = token or _query_token(environ)
            subject = token_subject(token)
            if token and subject is None:
                logger.warning("Socket %s sent a customer token that does not verify; anonymous", sid)
            connections[sid] = {"token": token if subject else None, "subject": subject, "session": None}
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            session = (connections.pop(sid, None) or {}).get("session")
            if session and not any(c["session"] == session for c in connections.values()):
                await _chat_window(session, closed=True)  # no other tab of this chat is open here

        # Event handlers take whatever a client sends: no argument, several, or any JSON value.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None, *_: Any) -> None:
            connection = connections.get(sid)
            if connection is None:
                return
            requested = (data or {}).get("session_id") if isinstance(data, dict) else None
            subject = connection["subject"]
            if requested and conversation_ids.belongs_to(requested, subject, conversation_secret()):
                session_id = requested
            else:
                if requested:
                    logger.info("Socket %s asked for a session not issued to it; issuing a new one", sid)
                session_id = conversation_ids.issue(subject, conversation_secret())
            previous = connection["session"]
            if previous and previous != session_id:
                sio.leave_room(sid, previous, namespace=self.namespace)
            connection["session"] = session_id
            sio.enter_room(sid, session_id, namespace=self.namespace)  # python-socketio < 5.10: sync
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if session_id == requested:
                await _chat_window(session_id, closed=False)  # back (a reload): still waiting in line

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None, *_: Any) -> None:
            connection = connections.get(sid)
            if connection is None or not isinstance(data, dict):
                return
            session_id = connection["session"]
            if not session_id or data.get("session_id") != session_id:
                logger.warning("Socket %s sent a message for a session it was not confirmed in", sid)
                await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
                return
            # Whatever the widget sends as customData is dropped: the token is the connection's.
            metadata = {CUSTOMER_TOKEN_KEY: connection["token"]}
            text = data.get("message")
            message = UserMessage(
                text if isinstance(text, str) else "",  # anything else is answered as an empty message
                SocketIOOutput(sio, self.bot_message_evt),
                session_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            await handle(message)

        return webhook
