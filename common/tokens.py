"""Identity tokens: HS256 JWTs. Customers' tokens are signed by the website and verified by the
action server; agents' tokens (another secret and issuer) by the escalation service.

`verify` never raises: any problem (missing, forged, expired, malformed) yields an anonymous
result with the reason, which the caller logs. A token only names the customer; the segment always
comes from the CRM, so a token cannot raise anyone's tier.

A token may carry an id (`jti`), so that it can be revoked before it expires, and further claims of
the caller's (agents' tokens carry their account's token generation); `verify` hands both back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import jwt

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096
MAX_CUSTOMER_ID_LENGTH = 64
MAX_TOKEN_ID_LENGTH = 64
REGISTERED_CLAIMS = ("sub", "iss", "iat", "exp", "jti")


@dataclass(frozen=True)
class Identity:
    subject: Optional[str]  # the customer id or agent name; None: anonymous
    reason: str  # why: "verified", "no token", "bad signature", ...
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)  # of a verified token

    @property
    def is_verified(self) -> bool:
        return self.subject is not None

    @property
    def token_id(self) -> Optional[str]:
        """The token's `jti`, when it has one."""
        return self.claims.get("jti")

    @property
    def expires_at(self) -> Optional[int]:
        """When the token expires, in seconds since the epoch."""
        expiry = self.claims.get("exp")
        return int(expiry) if isinstance(expiry, (int, float)) else None


def mint(
    subject: str,
    secret: str,
    issuer: str,
    ttl_seconds: int,
    now: Optional[float] = None,
    token_id: Optional[str] = None,
    extra_claims: Optional[Mapping[str, Any]] = None,
) -> str:
    """A signed token for `subject`; with `token_id` as its `jti`, and `extra_claims` (not the registered
    ones) when given."""
    clashing = set(extra_claims or ()) & set(REGISTERED_CLAIMS)
    if clashing:
        raise ValueError(f"extra_claims may not set {sorted(clashing)}")
    issued = int(now if now is not None else time.time())
    claims = {**(extra_claims or {}), "sub": subject, "iss": issuer, "iat": issued, "exp": issued + ttl_seconds}
    if token_id is not None:
        claims["jti"] = token_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: object, secret: str, issuer: str) -> Identity:
    if token is None or token == "":
        return Identity(None, "no token")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        # A JWT is ASCII; anything else (a lone surrogate from JSON would even make PyJWT raise) is not one.
        return Identity(None, "malformed token (not an ASCII string, or too long)")
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
    token_id = claims.get("jti")
    if token_id is not None and (not isinstance(token_id, str) or not 0 < len(token_id) <= MAX_TOKEN_ID_LENGTH):
        return Identity(None, "invalid token id")
    return Identity(subject, "verified", claims)
