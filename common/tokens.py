"""Identity tokens: HS256 JWTs. Customers' tokens are signed by the website and verified by the
action server; agents' tokens (another secret and issuer) by the escalation service.

`verify` never raises: any problem (missing, forged, expired, malformed) yields an anonymous
result with the reason, which the caller logs. A token only names the customer; the segment always
comes from the CRM, so a token cannot raise anyone's tier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import jwt

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096
MAX_CUSTOMER_ID_LENGTH = 64


@dataclass(frozen=True)
class Identity:
    subject: Optional[str]  # the customer id or agent name; None: anonymous
    reason: str  # why: "verified", "no token", "bad signature", ...

    @property
    def is_verified(self) -> bool:
        return self.subject is not None


def mint(subject: str, secret: str, issuer: str, ttl_seconds: int, now: Optional[float] = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "iss": issuer, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: object, secret: str, issuer: str) -> Identity:
    if token is None or token == "":
        return Identity(None, "no token")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return Identity(None, "malformed token (not a string or too long)")
    try:
        # `algorithms` is fixed so "alg: none" and algorithm-confusion tokens are refused.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        return Identity(None, "expired token")
    except jwt.InvalidSignatureError:
        return Identity(None, "bad signature")
    except jwt.InvalidTokenError as error:
        return Identity(None, f"invalid token ({type(error).__name__})")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_CUSTOMER_ID_LENGTH:
        return Identity(None, "invalid subject")
    return Identity(subject, "verified")
