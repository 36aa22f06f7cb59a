"""People who sign in to the console: agents (who work the human queue) and trainers (who review
what the bot misunderstood and release models). Each has one role; the API checks it per route.
Sign-in is with a password, then a bearer token for the API.

Passwords are stored as salted PBKDF2-SHA256 hashes (Python's hashlib; no extra dependency).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import Boolean, Column, String

from common.database import Base, Database
from common.tokens import mint, verify

AGENT_TOKEN_ISSUER = "larkspur-agents"
AGENT_TOKEN_TTL_SECONDS = 12 * 3600  # one shift
AGENT, TRAINER = "agent", "trainer"
ROLES = (AGENT, TRAINER)
DEMO_AGENTS = (
    ("alice", "Alice Martin", ("concierge", "retention", "sales", "general"), AGENT),
    ("bob", "Bob Jansen", ("general", "retention", "sales"), AGENT),
    ("tara", "Tara Novak", (), TRAINER),
)


class AgentRow(Base):
    __tablename__ = "agents"

    name = Column(String(64), primary_key=True)
    display_name = Column(String(120), nullable=False)
    queues = Column(String(200), nullable=False)  # comma-separated queue names
    active = Column(Boolean, nullable=False, default=True)
    role = Column(String(16), nullable=False, default=AGENT, server_default=AGENT)
    password_hash = Column(String(200), nullable=True)  # pbkdf2_sha256$iterations$salt$hash; None: no sign-in


@dataclass(frozen=True)
class Agent:
    name: str
    display_name: str
    queues: Tuple[str, ...]
    role: str = AGENT

    def serves(self, queue: str) -> bool:
        """Whether this agent works `queue` (agents see and claim only handoffs in their queues)."""
        return self.role == AGENT and queue in self.queues


PBKDF2_ITERATIONS = 200_000


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
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


class AgentDirectory:
    def __init__(self, database: Database) -> None:
        self._database = database

    def seed_demo_agents(self, password: Optional[str] = None) -> None:
        """The demo agents, with `password` (DEMO_AGENT_PASSWORD) when given."""
        hashed = hash_password(password) if password else None
        with self._database.session() as session:
            for name, display, queues, role in DEMO_AGENTS:
                row = session.get(AgentRow, name) or AgentRow(name=name)
                row.display_name, row.queues, row.active, row.role = display, ",".join(queues), True, role
                if hashed and not password_matches(password, row.password_hash):
                    row.password_hash = hashed
                session.add(row)

    def authenticate(self, name: str, password: str) -> Optional[Agent]:
        with self._database.session() as session:
            row = session.get(AgentRow, name) if isinstance(name, str) else None
            stored = row.password_hash if row is not None and row.active else None
        if not isinstance(password, str) or not password_matches(password, stored):
            return None
        return self.get(name)

    def get(self, name: str) -> Optional[Agent]:
        with self._database.session() as session:
            row = session.get(AgentRow, name)
            if row is None or not row.active:
                return None
            return Agent(row.name, row.display_name, tuple(q for q in row.queues.split(",") if q), row.role)

    def count_by_queue(self) -> dict:
        with self._database.session() as session:
            rows = session.query(AgentRow).filter(AgentRow.active.is_(True), AgentRow.role == AGENT).all()
        counts: dict = {}
        for row in rows:
            for queue in filter(None, row.queues.split(",")):
                counts[queue] = counts.get(queue, 0) + 1
        return counts


def agent_token(name: str, secret: str) -> str:
    return mint(name, secret, AGENT_TOKEN_ISSUER, AGENT_TOKEN_TTL_SECONDS)


def agent_from_token(token: Optional[str], secret: str, directory: AgentDirectory) -> Optional[Agent]:
    identity = verify(token, secret, AGENT_TOKEN_ISSUER)
    return directory.get(identity.subject) if identity.is_verified else None
