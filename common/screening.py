"""Screening of text typed by a person (customers in the channels, agents in the console): one rule
for both. Control characters are removed; empty or oversized messages get a clear reply instead of
reaching the bot or the customer. Pure and cheap to import (the escalation service uses it too)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Optional

DEFAULT_MAX_CHARS = 2000
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
