"""Conversation ids bound to who the customer is, so a customer's token opens only their own chats.

Rasa uses the channel's session id as the conversation id, and both Rasa's webhooks and the
socket.io channel let the client choose it. Here the server issues every id as
`<random part>.<signature>`: the signature is an HMAC of the random part and the customer the id was
issued to (or "anonymous"), keyed by the customer-token secret. A client can keep and resend its id
(a page reload resumes the chat), but an id issued to someone else fails the check, and nobody can
make one for another customer. Stateless, so any number of Rasa replicas agree without a database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Optional

SEPARATOR = "."
RANDOM_BYTES = 16  # 128 bits: not guessable
SIGNATURE_HEX = 24  # 96 bits of HMAC-SHA256
ANONYMOUS = "anonymous"


def _signature(random_part: str, subject: Optional[str], secret: str) -> str:
    message = f"conversation-id|{subject or ANONYMOUS}|{random_part}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def issue(subject: Optional[str], secret: str) -> str:
    """A new conversation id for `subject` (a customer id, or None for an anonymous visitor)."""
    random_part = secrets.token_hex(RANDOM_BYTES)
    return f"{random_part}{SEPARATOR}{_signature(random_part, subject, secret)}"


def is_bound(conversation_id: object) -> bool:
    """Whether the id has the issued form (it may still belong to someone else)."""
    if not isinstance(conversation_id, str):
        return False
    random_part, sep, signature = conversation_id.partition(SEPARATOR)
    return bool(sep) and len(random_part) == 2 * RANDOM_BYTES and len(signature) == SIGNATURE_HEX


def belongs_to(conversation_id: object, subject: Optional[str], secret: str) -> bool:
    """True when the id was issued to `subject` (None: anonymous) with this secret."""
    if not is_bound(conversation_id):
        return False
    random_part, _, signature = conversation_id.partition(SEPARATOR)  # type: ignore[union-attr]
    return hmac.compare_digest(signature, _signature(random_part, subject, secret))


def may_use(conversation_id: object, subject: Optional[str], secret: str) -> bool:
    """The channels' rule. A signed-in customer must use an id issued to them. An anonymous client
    may use an id issued to "anonymous", or an id not in the issued form (server-side integrations
    and tests over REST, which never carry a customer's data), but never a customer's id."""
    if subject is not None:
        return belongs_to(conversation_id, subject, secret)
    return belongs_to(conversation_id, None, secret) or not is_bound(conversation_id)
