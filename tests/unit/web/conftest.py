"""The escalation service's app built in-process from its factory, with the real blueprints, a real
(throwaway, migrated) SQLite database, a recording stand-in for Rasa and a settable clock.

A test changes settings by parametrizing `settings_overrides` (environment names and values)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from common.conversation_log import ConversationLog
from common.crm import CustomerRepository
from common.database import Database, migrate
from common.settings import PROJECT_ROOT, Settings, throwaway_settings
from escalation.core.rules import parse_rules, round_the_clock
from escalation.queue.agents import AgentDirectory, agent_token
from escalation.queue.handoffs import Handoff, HandoffQueue
from escalation.rules_file import SHIPPED_RULES_FILE, read_rules_mapping
from escalation.web.app import Services
from service.wiring import app_for, training_for
from tests.support.asgi_client import AppClient, Response
from tests.support.fakes import Clock, RecordingRasa, TrackerTable
from tools.seed import seed_customers

PROJECT_PARTS = ("data", "bot", "config.yml", "tests/nlu", "tests/stories")


@dataclass
class Service:
    client: AppClient
    services: Services
    settings: Settings
    rasa: RecordingRasa
    tracker: TrackerTable
    clock: Clock

    def token(self, person: str) -> str:
        return agent_token(person, self.settings.agent_token_secret)

    def api(self, method: str, path: str, person: Optional[str] = "alice", **kwargs) -> Response:
        return self.client.request(method, path, token=self.token(person) if person else None, **kwargs)

    def handoff(
        self,
        customer_id: str = "demo-standard",
        queue: str = "general",
        priority: int = 3,
        sla_seconds: int = 3600,
        text: str = "this is the third time I ask!!!",
        reasons: Optional[List[dict]] = None,
        tier: str = "standard",
    ) -> Handoff:
        """A conversation that the bot handed over, as action_escalate leaves it: the customer's message in
        the tracker store and a waiting handoff."""
        conversation = f"conversation-{len(self.services.queue.list(None)) + 1}"
        self.tracker.customer_says(conversation, text)
        return self.services.queue.enqueue(
            conversation,
            customer_id,
            tier,
            {"tier": tier},
            queue,
            priority,
            reasons or [{"code": "asked_for_person", "text": "customer asked for a person"}],
            sla_seconds,
            self.clock(),
        )


def copy_project(target: Path) -> Path:
    for part in PROJECT_PARTS:
        source = PROJECT_ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / part)
    return target


@pytest.fixture
def settings_overrides() -> Dict[str, object]:
    return {}


@pytest.fixture
def service(tmp_path: Path, settings_overrides: Dict[str, object]) -> Service:
    settings = throwaway_settings(tmp_path, BOT_PROJECT_DIR=copy_project(tmp_path / "project"), **settings_overrides)
    migrate(settings.customer_db_url)
    database = Database.from_url(settings.customer_db_url)
    seed_customers(CustomerRepository(database), 12)
    agents = AgentDirectory(database)
    agents.sync_demo_accounts(settings.demo_accounts, settings.demo_agent_password)  # as service.wiring.build
    tracker, clock = TrackerTable(Path(settings.tracker_db_path)), Clock()
    rasa = RecordingRasa(tracker, clock)
    rules = parse_rules(round_the_clock(read_rules_mapping(SHIPPED_RULES_FILE)))
    services = Services(
        settings,
        rules,
        HandoffQueue(database),
        agents,
        CustomerRepository(database),
        rasa,
        ConversationLog.for_sqlite_file(settings.tracker_db_path),
        clock,
    )
    client = AppClient(app_for(services, training_for(settings, database)))  # the service's own wiring
    yield Service(client, services, settings, rasa, tracker, clock)
    client.close()
