"""People who sign in to the console: agents (who work the human queue), trainers (who review
what the bot misunderstood and release models) and team leads (who read the analytics and try rule
changes on past conversations). Each has one role; the API checks it per route. Only agents serve
queues: trainers and leads take no chats.
Sign-in is with a password, then a bearer token for the API.

Accounts are managed by operators with `python -m tools.accounts` (add, list, set, password,
deactivate, activate), which calls the methods of `AgentDirectory`. An account stores the queues an
agent serves and their capacity (most conversations at once, 1 to 50). Rows are never deleted: a
deactivated account cannot sign in and is kept for the history of the handoffs it worked.

Passwords are stored as salted PBKDF2-SHA256 hashes (Python's hashlib; no extra dependency). A sign-in
for a name with no active account computes a hash too (against a fixed dummy hash), so that the time
it takes does not tell which names exist. Failed sign-ins are counted in the database, per account
name and per client address, within a sliding window (`SignInThrottle`): beyond the limit, sign-in
answers "retry after N seconds" without checking the password.

Tokens end in three ways before they expire: signing out stores the token's id (`jti`) in
`revoked_tokens` until its expiry; changing a person's password or deactivating them adds one to
their account's token generation, which every token carries (`gen`, 0 when absent), so all their
earlier tokens stop working at once and stay dead if the account is activated again. Checking a
token is one query: the account by name, and the token id in `revoked_tokens`, both by primary key.

The demo accounts (alice, bob, tara, lena) are rows with the `demo` flag. `sync_demo_accounts` (at every
start of the service) creates and refreshes them when DEMO_ACCOUNTS is true and deactivates them when
it is false. Any operator change to a demo account (set, password, deactivate, activate) clears its
flag: from then on it is a real account that DEMO_ACCOUNTS no longer touches.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Collection, Dict, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, delete, exists, false, select, update
from sqlalchemy.orm import Session

from common.database import Base, Database
from common.tokens import mint, verify
from escalation.core.routing import OFFLINE, PRESENCES, AgentLoad, effective_presence

AGENT_TOKEN_ISSUER = "larkspur-agents"
DEFAULT_AGENT_TOKEN_TTL_SECONDS = 12 * 3600  # one shift; AGENT_TOKEN_TTL_SECONDS in settings
GENERATION_CLAIM = "gen"
AGENT, TRAINER, LEAD = "agent", "trainer", "lead"
ROLES = (AGENT, TRAINER, LEAD)
DEFAULT_CAPACITY, MIN_CAPACITY, MAX_CAPACITY = 3, 1, 50
MIN_PASSWORD_LENGTH = 12
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MAX_DISPLAY_NAME_LENGTH, MAX_QUEUES_LENGTH = 120, 200
DEMO_AGENTS = (
    ("alice", "Alice Martin", ("concierge", "retention", "sales", "general"), AGENT),
    ("bob", "Bob Jansen", ("general", "retention", "sales"), AGENT),
    ("tara", "Tara Novak", (), TRAINER),
    ("lena", "Lena", (), LEAD),
)


class AgentRow(Base):
    __tablename__ = "agents"

    name = Column(String(64), primary_key=True)
    display_name = Column(String(120), nullable=False)
    queues = Column(String(200), nullable=False)  # comma-separated queue names
    active = Column(Boolean, nullable=False, default=True)
    role = Column(String(16), nullable=False, default=AGENT, server_default=AGENT)
    password_hash = Column(String(200), nullable=True)  # pbkdf2_sha256$iterations$salt$hash; None: no sign-in
    capacity = Column(Integer, nullable=False, default=DEFAULT_CAPACITY, server_default=str(DEFAULT_CAPACITY))
    demo = Column(Boolean, nullable=False, default=False, server_default=false())  # managed by DEMO_ACCOUNTS
    token_generation = Column(Integer, nullable=False, default=0, server_default="0")  # +1 revokes all tokens
    presence = Column(String(8), nullable=False, default=OFFLINE, server_default=OFFLINE)  # as the console said
    presence_seen_at = Column(DateTime(timezone=True), nullable=True)  # its last heartbeat
    last_assigned_at = Column(DateTime(timezone=True), nullable=True)


class RevokedTokenRow(Base):
    """Tokens signed out before they expire; a row is deleted once its token has expired anyway."""

    __tablename__ = "revoked_tokens"

    token_id = Column(String(64), primary_key=True)
    expires_at = Column(Integer, nullable=False, index=True)  # seconds since the epoch


class SignInFailureRow(Base):
    """One failed sign-in under one key ("account:<name>" or "address:<client address>")."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    key = Column(String(200), nullable=False)
    at = Column(Float, nullable=False, index=True)  # seconds since the epoch


@dataclass(frozen=True)
class Agent:
    name: str
    display_name: str
    queues: Tuple[str, ...]
    role: str = AGENT
    capacity: int = DEFAULT_CAPACITY

    def serves(self, queue: str) -> bool:
        """Whether this agent works `queue` (agents see and claim only handoffs in their queues)."""
        return self.role == AGENT and queue in self.queues


@dataclass(frozen=True)
class Account:
    """An account as operators see it (never its password hash)."""

    name: str
    display_name: str
    queues: Tuple[str, ...]
    role: str
    capacity: int
    active: bool
    demo: bool


class AccountError(ValueError):
    """An account operation that cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class SignInLimits:
    per_account: int
    per_address: int
    window_seconds: int


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the person (None: unknown name or wrong password), the token generation
    to put in their token, or the seconds to wait when there were too many failures."""

    agent: Optional[Agent]
    generation: int = 0
    retry_after_seconds: Optional[int] = None


PBKDF2_ITERATIONS = 200_000
# Checked when there is no active account with the name, so that it costs the same as a real one; no
# password matches it (its digest is not a PBKDF2 output of any known password).
DUMMY_PASSWORD_HASH = f"pbkdf2_sha256${PBKDF2_ITERATIONS}${'0' * 32}${'0' * 64}"


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def password_matches(password: str, stored: Optional[str]) -> bool:
    try:
        scheme, iterations, salt, digest = (stored or "").split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    # A password UTF-8 cannot encode (a lone surrogate) is hashed escaped: it costs the same and never
    # matches a password that was set, since set passwords are valid text.
    secret = password.encode("utf-8", "backslashreplace")
    candidate = hashlib.pbkdf2_hmac("sha256", secret, salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    # SQLite returns naive datetimes; everything here is UTC.
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _queues_of(row: AgentRow) -> Tuple[str, ...]:
    return tuple(q for q in row.queues.split(",") if q)


def _agent(row: AgentRow) -> Agent:
    return Agent(row.name, row.display_name, _queues_of(row), row.role, row.capacity)


def _account(row: AgentRow) -> Account:
    return Account(row.name, row.display_name, _queues_of(row), row.role, row.capacity, row.active, row.demo)


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a passphrase of a few words is easy to type and hard to guess)."
        )
    return password


def _checked_capacity(capacity: int) -> int:
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
        raise AccountError(
            f"The capacity must be between {MIN_CAPACITY} and {MAX_CAPACITY} conversations at once, got {capacity}."
        )
    return capacity


def _checked_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    if not display_name or len(display_name) > MAX_DISPLAY_NAME_LENGTH:
        raise AccountError(
            f'Give a display name of 1 to {MAX_DISPLAY_NAME_LENGTH} characters: --display-name "Full Name".'
        )
    return display_name


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}, got {role!r}.")
    return role


def _checked_queues(role: str, queues: Sequence[str], known_queues: Collection[str]) -> str:
    unknown = [queue for queue in queues if queue not in known_queues]
    if unknown:
        raise AccountError(
            f"Unknown queue(s) {', '.join(unknown)}: the queues are {', '.join(known_queues)} "
            "(the escalation rules' `queues`)."
        )
    if role == AGENT and not queues:
        raise AccountError(f"An agent serves at least one queue: --queues {','.join(known_queues)} (any of them).")
    if role != AGENT and queues:
        raise AccountError(f"A {role} serves no queue: leave --queues out (or give --queues '').")
    joined = ",".join(dict.fromkeys(queues))
    if len(joined) > MAX_QUEUES_LENGTH:
        raise AccountError(f"Too many queues: at most {MAX_QUEUES_LENGTH} characters in all.")
    return joined


def _deleting(table: type, condition: Any) -> Any:
    """DELETE ... WHERE condition, leaving the session's loaded objects alone."""
    return delete(table).where(condition).execution_options(synchronize_session=False)


class SignInThrottle:
    """Failed sign-ins per key within a sliding window, in the database, so that every process of the
    service counts the same failures.

    An attempt is recorded as a failure under each of its keys *before* the password is checked and
    cleared if it succeeds: parallel guessers therefore see each other's attempts, and no more than the
    limit of them get their password checked. Rows older than the window are deleted as attempts come.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def begin(self, limits: Dict[str, int], now: float, window_seconds: int) -> Tuple[List[int], Optional[int]]:
        """Records an attempt under each key of `limits` (key -> failures allowed). Returns the ids of
        the recorded rows, or, when a key already has its limit of failures, records nothing and
        returns the seconds until enough of them leave the window."""
        cutoff = now - window_seconds
        with self._database.session() as session:
            session.execute(_deleting(SignInFailureRow, SignInFailureRow.at <= cutoff))
            rows = [SignInFailureRow(key=key, at=now) for key in limits]
            session.add_all(rows)
            session.flush()
            own = [row.id for row in rows]
        retry_after = 0.0
        with self._database.session() as session:
            for key, limit in limits.items():
                others = select(SignInFailureRow.at).where(
                    SignInFailureRow.key == key, SignInFailureRow.at > cutoff, SignInFailureRow.id.notin_(own)
                )
                times = session.execute(others.order_by(SignInFailureRow.at)).scalars().all()
                limit = max(limit, 1)
                if len(times) >= limit:  # this attempt may go ahead once len(times) - limit + 1 have left
                    retry_after = max(retry_after, times[len(times) - limit] + window_seconds - now)
            if retry_after > 0:
                session.execute(_deleting(SignInFailureRow, SignInFailureRow.id.in_(own)))
                return [], max(1, math.ceil(retry_after))
        return own, None

    def succeeded(self, account_key: str, attempt: Sequence[int]) -> None:
        """The attempt was no failure, and the account's earlier failures are forgiven."""
        with self._database.session() as session:
            session.execute(
                _deleting(SignInFailureRow, (SignInFailureRow.key == account_key) | SignInFailureRow.id.in_(attempt))
            )


def _storable(text: str) -> str:
    """`text` as the database can store it: characters UTF-8 cannot encode (a lone surrogate from a
    JSON "\\ud800") escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def account_key(name: object) -> str:
    return _storable(f"account:{str(name)[:100]}")


def address_key(address: str) -> str:
    return _storable(f"address:{address[:100]}")


class AgentDirectory:
    def __init__(self, database: Database) -> None:
        self._database = database
        self.throttle = SignInThrottle(database)

    # --- the demo accounts -------------------------------------------------------------------------

    def sync_demo_accounts(self, enabled: bool, password: Optional[str] = None) -> None:
        """At every start of the service: DEMO_ACCOUNTS true creates or refreshes the demo accounts,
        false deactivates those still flagged as demo accounts (revoking their tokens)."""
        if enabled:
            self.seed_demo_agents(password)
        else:
            self.retire_demo_agents()

    def seed_demo_agents(self, password: Optional[str] = None) -> None:
        """The demo agents, with `password` (DEMO_AGENT_PASSWORD) when given: created when missing,
        re-activated and refreshed while they still have the demo flag, left alone once an operator
        changed them."""
        hashed = hash_password(password) if password else None
        with self._database.session() as session:
            for name, display, queues, role in DEMO_AGENTS:
                row = session.get(AgentRow, name)
                if row is None:
                    row = AgentRow(name=name, demo=True, token_generation=0, capacity=DEFAULT_CAPACITY)
                elif not row.demo:
                    continue  # an operator's account now
                row.display_name, row.queues, row.active, row.role = display, ",".join(queues), True, role
                if hashed and not password_matches(password or "", row.password_hash):
                    row.password_hash = hashed
                session.add(row)

    def retire_demo_agents(self) -> None:
        """Deactivates the accounts still flagged as demo accounts, and revokes their tokens."""
        with self._database.session() as session:
            for row in session.query(AgentRow).filter(AgentRow.demo.is_(True), AgentRow.active.is_(True)):
                row.active = False
                row.token_generation += 1

    # --- operators' account management (tools/accounts.py) ----------------------------------------

    def check_new(
        self,
        name: str,
        *,
        role: str,
        display_name: str,
        queues: Sequence[str],
        known_queues: Collection[str],
        capacity: int = DEFAULT_CAPACITY,
    ) -> AgentRow:
        """The row `add` would store, without a password; AccountError if it cannot be added (so that a
        caller can say so before asking for a password)."""
        if not NAME_PATTERN.fullmatch(name):
            raise AccountError(
                f"{name!r} cannot be an account name: use 1 to 64 lowercase letters, digits, '.', '_', '-' or '@', "
                "starting with a letter or digit."
            )
        role = _checked_role(role)
        row = AgentRow(
            name=name,
            display_name=_checked_display_name(display_name),
            queues=_checked_queues(role, queues, known_queues),
            role=role,
            capacity=_checked_capacity(capacity),
            active=True,
            demo=False,
            token_generation=0,
        )
        with self._database.session() as session:
            if session.get(AgentRow, name) is not None:
                raise AccountError(f"There is already an account named {name}: change it with `set {name} ...`.")
        return row

    def add(
        self,
        name: str,
        *,
        role: str,
        display_name: str,
        queues: Sequence[str],
        password: str,
        known_queues: Collection[str],
        capacity: int = DEFAULT_CAPACITY,
    ) -> Account:
        row = self.check_new(
            name, role=role, display_name=display_name, queues=queues, known_queues=known_queues, capacity=capacity
        )
        row.password_hash = hash_password(_checked_password(password))
        with self._database.session() as session:
            if session.get(AgentRow, name) is not None:  # added in the meantime
                raise AccountError(f"There is already an account named {name}: change it with `set {name} ...`.")
            session.add(row)
            return _account(row)

    def update(
        self,
        name: str,
        *,
        known_queues: Collection[str],
        display_name: Optional[str] = None,
        queues: Optional[Sequence[str]] = None,
        capacity: Optional[int] = None,
        role: Optional[str] = None,
    ) -> Account:
        """Changes what is given. A change of role to trainer or lead drops the queues; to agent needs `queues`."""
        with self._database.session() as session:
            row = self._row(session, name)
            new_role = _checked_role(role) if role is not None else row.role
            if queues is None:
                queues = () if new_role != AGENT else _queues_of(row)
            row.queues = _checked_queues(new_role, queues, known_queues)
            row.role = new_role
            if display_name is not None:
                row.display_name = _checked_display_name(display_name)
            if capacity is not None:
                row.capacity = _checked_capacity(capacity)
            row.demo = False
            return _account(row)

    def set_password(self, name: str, password: str) -> Account:
        """A new password; every token the person had stops working."""
        hashed = hash_password(_checked_password(password))
        with self._database.session() as session:
            row = self._row(session, name)
            row.password_hash, row.demo = hashed, False
            row.token_generation += 1
            return _account(row)

    def deactivate(self, name: str) -> Account:
        """The person cannot sign in any more, and every token they had stops working; the row stays."""
        with self._database.session() as session:
            row = self._row(session, name)
            row.active, row.demo = False, False
            row.token_generation += 1
            return _account(row)

    def activate(self, name: str) -> Account:
        """The person can sign in again (with a new sign-in: their old tokens stay revoked)."""
        with self._database.session() as session:
            row = self._row(session, name)
            row.active, row.demo = True, False
            return _account(row)

    def account(self, name: str) -> Account:
        with self._database.session() as session:
            return _account(self._row(session, name))

    def accounts(self) -> List[Account]:
        with self._database.session() as session:
            return [_account(row) for row in session.query(AgentRow).order_by(AgentRow.name)]

    @staticmethod
    def _row(session: Session, name: str) -> AgentRow:
        row = session.get(AgentRow, name)
        if row is None:
            raise AccountError(f"There is no account named {name}: `list` shows them, `add` creates one.")
        return row

    # --- signing in and tokens ---------------------------------------------------------------------

    def _authenticate(self, name: object, password: object) -> Tuple[Optional[Agent], int]:
        with self._database.session() as session:
            row = session.get(AgentRow, name) if isinstance(name, str) and name == _storable(name) else None
            if row is None or not row.active or not row.password_hash:
                row = None
            stored = row.password_hash if row is not None else DUMMY_PASSWORD_HASH
            agent, generation = (_agent(row), row.token_generation) if row is not None else (None, 0)
        # One PBKDF2 computation whether or not the account exists, so the time tells nothing.
        matches = password_matches(password if isinstance(password, str) else "", stored)
        if agent is None or not matches or not isinstance(password, str):
            return None, 0
        return agent, generation

    def authenticate(self, name: str, password: str) -> Optional[Agent]:
        return self._authenticate(name, password)[0]

    def sign_in(self, name: object, password: object, address: str, limits: SignInLimits, now: float) -> SignIn:
        """Checks the password unless the name or the address has had too many failures lately."""
        keys = {account_key(name): limits.per_account, address_key(address): limits.per_address}
        attempt, retry_after = self.throttle.begin(keys, now, limits.window_seconds)
        if retry_after is not None:
            return SignIn(None, retry_after_seconds=retry_after)
        agent, generation = self._authenticate(name, password)
        if agent is not None:
            self.throttle.succeeded(account_key(name), attempt)
        return SignIn(agent, generation)

    def get(self, name: str) -> Optional[Agent]:
        with self._database.session() as session:
            row = session.get(AgentRow, name)
            if row is None or not row.active:
                return None
            return _agent(row)

    def token_holder(self, name: str, token_id: Optional[str], generation: int) -> Optional[Agent]:
        """The active person a verified token names, unless the token was revoked: one query."""
        revoked = exists().where(RevokedTokenRow.token_id == token_id) if token_id else false()
        with self._database.session() as session:
            found = session.execute(select(AgentRow, revoked.label("revoked")).where(AgentRow.name == name)).first()
            if found is None:
                return None
            row, is_revoked = found
            if not row.active or is_revoked or row.token_generation != generation:
                return None
            return _agent(row)

    def token_generation(self, name: str) -> Optional[int]:
        """The generation to put in a new token of `name`; None unless it is an active account."""
        with self._database.session() as session:
            row = session.get(AgentRow, name)
            return row.token_generation if row is not None and row.active else None

    def revoke_token(self, name: str, token_id: Optional[str], expires_at: Optional[int], now: float) -> None:
        """Signs one token out; a token without an id (made before tokens had one) can only be revoked
        with all of its holder's tokens."""
        with self._database.session() as session:
            session.execute(_deleting(RevokedTokenRow, RevokedTokenRow.expires_at < now))
            if token_id and expires_at is not None:
                if session.get(RevokedTokenRow, token_id) is None:
                    session.add(RevokedTokenRow(token_id=token_id, expires_at=expires_at))
                return
            row = session.get(AgentRow, name)
            if row is not None:
                row.token_generation += 1

    # --- presence ----------------------------------------------------------------------------------

    def set_presence(self, name: str, status: str, now: datetime) -> None:
        """What the console says (a switch, or its heartbeat repeating the current status)."""
        if status not in PRESENCES:
            raise AccountError(f"presence must be one of {', '.join(PRESENCES)}, got {status!r}")
        with self._database.session() as session:
            session.execute(
                update(AgentRow)
                .where(AgentRow.name == name)
                .values(presence=status, presence_seen_at=now)
                .execution_options(synchronize_session=False)
            )

    def presence(self, name: str, now: datetime, timeout_seconds: float) -> str:
        with self._database.session() as session:
            row = session.get(AgentRow, name)
            if row is None:
                return OFFLINE
            return effective_presence(row.presence, _aware(row.presence_seen_at), now, timeout_seconds)

    def loads(self, open_counts: Mapping[str, int], now: datetime, timeout_seconds: float) -> List[AgentLoad]:
        """Every active agent as routing sees them now (`open_counts`: their assigned handoffs)."""
        with self._database.session() as session:
            rows = session.query(AgentRow).filter(AgentRow.active.is_(True), AgentRow.role == AGENT).all()
            return [
                AgentLoad(
                    row.name,
                    _queues_of(row),
                    row.capacity,
                    open_counts.get(row.name, 0),
                    effective_presence(row.presence, _aware(row.presence_seen_at), now, timeout_seconds),
                    _aware(row.last_assigned_at),
                )
                for row in rows
            ]


def agent_token(
    name: str,
    secret: str,
    ttl_seconds: int = DEFAULT_AGENT_TOKEN_TTL_SECONDS,
    generation: int = 0,
    now: Optional[float] = None,
) -> str:
    """A token for `name`, with an id of its own so that it can be signed out; `generation` is the
    account's token generation (0 until its password is changed or it is deactivated)."""
    extra = {GENERATION_CLAIM: generation} if generation else None
    return mint(name, secret, AGENT_TOKEN_ISSUER, ttl_seconds, now, secrets.token_urlsafe(16), extra)


def agent_from_token(token: Optional[str], secret: str, directory: AgentDirectory) -> Optional[Agent]:
    identity = verify(token, secret, AGENT_TOKEN_ISSUER)
    if not identity.is_verified or identity.subject is None:
        return None
    generation = identity.claims.get(GENERATION_CLAIM, 0)
    if not isinstance(generation, int) or isinstance(generation, bool):
        return None
    return directory.token_holder(identity.subject, identity.token_id, generation)
