"""Agents of the human queue and their sign-in tokens."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import Boolean, Column, String
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from escalation.queue import Base
from supportbot.tokens import mint, verify

AGENT_TOKEN_ISSUER = "larkspur-agents"
AGENT_TOKEN_TTL_SECONDS = 12 * 3600  # one shift
DEMO_AGENTS = (
    ("alice", "Alice Martin", ("concierge", "retention", "sales", "general")),
    ("bob", "Bob Jansen", ("general", "retention", "sales")),
)


class AgentRow(Base):
    __tablename__ = "agents"

    name = Column(String(64), primary_key=True)
    display_name = Column(String(120), nullable=False)
    queues = Column(String(200), nullable=False)  # comma-separated queue names
    active = Column(Boolean, nullable=False, default=True)


@dataclass(frozen=True)
class Agent:
    name: str
    display_name: str
    queues: Tuple[str, ...]


class AgentDirectory:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)

    def seed_demo_agents(self) -> None:
        with self._sessions.begin() as session:
            for name, display, queues in DEMO_AGENTS:
                session.merge(AgentRow(name=name, display_name=display, queues=",".join(queues), active=True))

    def get(self, name: str) -> Optional[Agent]:
        with self._sessions() as session:
            row = session.get(AgentRow, name)
            if row is None or not row.active:
                return None
            return Agent(row.name, row.display_name, tuple(q for q in row.queues.split(",") if q))


    def count_by_queue(self) -> dict:
        with self._sessions() as session:
            rows = session.query(AgentRow).filter(AgentRow.active.is_(True)).all()
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


def main(argv: list) -> int:
    from supportbot.settings import load_settings

    names = [name for name, _, _ in DEMO_AGENTS]
    if len(argv) != 1 or argv[0] not in names:
        print(f"usage: make agent-token AGENT=<name>   (demo agents: {', '.join(names)})", file=sys.stderr)
        return 2
    print(agent_token(argv[0], load_settings().agent_token_secret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
