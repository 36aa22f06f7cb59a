"""Rasa input channels that screen what customers send before the bot sees it.

Both the REST and the socket.io (website widget) channels get the same rules, from one function:
control characters are removed, and empty or oversized messages are answered with a clear message
instead of reaching the NLU pipeline. On REST, a body that is not a JSON object, or a sender or
message of the wrong type, gets a JSON 4xx.

Configured in bot/credentials.yml in place of Rasa's own `rest` and `socketio` channels; the
webhook paths stay the same (/webhooks/rest/webhook, /socket.io).
"""
from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, Text

from sanic import Blueprint
from sanic.exceptions import SanicException
from sanic.request import Request

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from supportbot import rasa_speedups

logger = logging.getLogger(__name__)

# This module is loaded by every Rasa server of the project (bot/credentials.yml names it).
rasa_speedups.install()

DEFAULT_MAX_CHARS = 2000
MAX_SENDER_ID_LENGTH = 128
SENDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]+$")
EMPTY_MESSAGE_REPLY = "It looks like your message was empty. What can I help you with?"
TOO_LONG_REPLY = (
    "Sorry, that message is too long for me ({length} characters; the limit is {limit}). "
    "Could you send a shorter version?"
)


@dataclass(frozen=True)
class Screened:
    text: str
    problem: Optional[str] = None  # "empty" or "too_long"
    reply: Optional[str] = None  # what to tell the customer when there is a problem


def _is_unwanted_control(char: str) -> bool:
    # Keep newlines and tabs; drop other control and format characters (NUL, escape codes,
    # zero-width and bidi overrides) that only make text confusing or unsafe to display.
    return char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cf", "Cs")


def screen_text(text: Any, max_chars: int) -> Screened:
    """Pure check of one customer message."""
    if text is None:
        text = ""
    cleaned = "".join(c for c in str(text) if not _is_unwanted_control(c)).strip()
    if not cleaned:
        return Screened("", "empty", EMPTY_MESSAGE_REPLY)
    if len(cleaned) > max_chars:
        return Screened(cleaned, "too_long", TOO_LONG_REPLY.format(length=len(cleaned), limit=max_chars))
    return Screened(cleaned)


def max_message_chars() -> int:
    # The Rasa server gets this from the launcher's environment (settings: MAX_MESSAGE_CHARS).
    return int(os.environ.get("MAX_MESSAGE_CHARS", DEFAULT_MAX_CHARS))


def screening(
    on_new_message: Callable[[UserMessage], Awaitable[Any]]
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wraps Rasa's message handler: refused messages are answered here and go no further."""
    limit = max_message_chars()

    async def screened_handler(message: UserMessage) -> Any:
        result = screen_text(message.text, limit)
        if result.problem is not None:
            logger.info("Refused a %s message from %s", result.problem, message.sender_id)
            await message.output_channel.send_text_message(message.sender_id, result.reply)
            return None
        message.text = result.text
        return await on_new_message(message)

    return screened_handler


class BadRequest(SanicException):
    status_code = 400
    quiet = True


def _json_object(request: Request) -> dict:
    try:
        body = request.json
    except Exception:  # sanic raises on invalid JSON or undecodable bytes
        raise BadRequest("The request body must be valid UTF-8 JSON.")
    if not isinstance(body, dict):
        raise BadRequest('The request body must be a JSON object like {"sender": "...", "message": "..."}.')
    return body


class GuardedRestInput(RestInput):
    """Rasa's REST channel with input screening."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, request: Request) -> Optional[Text]:
        sender = _json_object(request).get("sender")
        if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER_ID_LENGTH \
                or not SENDER_ID_PATTERN.match(sender):
            raise BadRequest(
                f'"sender" must be 1 to {MAX_SENDER_ID_LENGTH} letters, digits or ._:@- characters.'
            )
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
        return metadata

    def _extract_input_channel(self, request: Request) -> Text:
        # Always this channel: a client must not be able to pose as another one.
        return self.name()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        return super().blueprint(screening(on_new_message))


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (used by the website widget) with input screening."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return super().blueprint(screening(on_new_message))
