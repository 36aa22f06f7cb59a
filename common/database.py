"""The product's own database (customers, handoffs, agents, trainers' reviews): one SQLAlchemy
`MetaData` for all its tables, one engine per URL per process, a unit of work, and the schema
migrations (Alembic, in migrations/ at the project root).

Repositories take a `Database`. Each of their methods runs in its own transaction, unless a unit of
work is open in the calling context: then it joins it, and everything commits together or not at
all (a CSAT rating goes to the handoff and to the customer's profile in one transaction).
`HandoffQueue.enqueue` and `ReviewStore.add` detect a concurrent insert by the unique constraint failing
at their own commit, so they are not for use inside a unit of work.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Named constraints, so that migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)

_engines: Dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine (connection pool) per database URL per process, created on first use."""
    with _engines_lock:
        if url not in _engines:
            kwargs = {"future": True, "pool_pre_ping": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            _engines[url] = create_engine(url, **kwargs)
        return _engines[url]


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._current: ContextVar[Optional[Session]] = ContextVar(f"unit_of_work_{id(self)}", default=None)

    @classmethod
    def from_url(cls, url: str) -> "Database":
        return cls(engine_for(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The open unit of work's session, or a transaction of its own that commits on success."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Repositories' calls inside the block share one transaction: committed when the block ends,
        rolled back if it raises."""
        if self._current.get() is not None:
            raise RuntimeError("A unit of work is already open in this context.")
        with self._sessions.begin() as session:
            token = self._current.set(session)
            try:
                yield session
            finally:
                self._current.reset(token)


def migrate(url: str, revision: str = "head") -> None:
    """Brings the database at `url` to `revision` (creating it when new). Databases made before
    migrations existed are recognised by the first revision and upgraded without loss."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str) -> Optional[str]:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
