"""The action server's databases, opened once per process on first use (not at import: the action
server imports every module at start) and shared by all actions: one engine, one connection pool."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from escalation.agents import AgentDirectory
from escalation.queue import HandoffQueue
from supportbot.profiles import CustomerRepository, engine_for
from supportbot.settings import Settings, load_settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


@lru_cache(maxsize=1)
def engine() -> Engine:
    return engine_for(settings().customer_db_url)


@lru_cache(maxsize=1)
def handoff_queue() -> HandoffQueue:
    queue = HandoffQueue(engine())
    queue.create_schema()
    return queue


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(engine())


@lru_cache(maxsize=1)
def customers() -> CustomerRepository:
    return CustomerRepository(engine())
