"""What the actions work with, opened once per process on first use (not at import: the action server
imports every module at start) and shared by all actions: settings, one database (one connection
pool), its repositories, and the escalation rules read once from the path in settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from common.crm import CustomerRepository
from common.database import Database
from common.settings import Settings, load_settings
from escalation.core.rules import Rules
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import HandoffQueue
from escalation.queue.routing import Router
from escalation.rules_file import load_rules


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


@lru_cache(maxsize=1)
def database() -> Database:
    return Database.from_url(settings().customer_db_url)


@lru_cache(maxsize=1)
def rules() -> Rules:
    return load_rules(Path(settings().escalation_rules_file))


@lru_cache(maxsize=1)
def handoff_queue() -> HandoffQueue:
    return HandoffQueue(database())


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(database())


def router() -> Router:  # cheap: it holds only the shared parts
    return Router(handoff_queue(), agent_directory(), rules(), settings().agent_presence_timeout_seconds)


@lru_cache(maxsize=1)
def customers() -> CustomerRepository:
    return CustomerRepository(database())
