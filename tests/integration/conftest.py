"""A real system for integration tests: the trained model, a seeded CRM, the action server, `rasa run`
and the escalation service on free ports, with temporary databases. One system is started for the
whole test session and shared by the bot-over-HTTP, live-handoff, escalation and browser tests; the
trainers' tests get one more, serving a copy of the bot project (they change its data and model)."""

from __future__ import annotations

import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import requests

from common import conversation_ids
from common.crm import CustomerRepository
from common.database import migrate
from common.rasa_commands import train
from common.settings import PROJECT_ROOT, throwaway_settings
from common.tokens import mint
from escalation.queue.agents import agent_token
from escalation.rules_file import write_round_the_clock_copy
from tools import launcher
from tools.seed import seed_customers

# Modules with systems of their own (the trainers' releases; push routing) share one test worker.
OWN_SYSTEM_MODULES = ("test_trainers.py", "test_routing.py")


def pytest_collection_modifyitems(items):
    """Everything under tests/integration is marked `integration`; `pytest -m "not integration"` runs the
    fast layer. With two workers (`make test`: pytest -n 2 --dist loadgroup) the trainers' tests run on
    one (with push routing's system) and everything that uses the shared running system on the other,
    each system started once."""
    here = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if here in path.parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.xdist_group("own" if path.name in OWN_SYSTEM_MODULES else "system"))


class RunningBot(launcher.System):
    """The running system with helpers to talk to it as a customer."""

    @property
    def webhook(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/webhook"

    def send(self, text: str, sender: Optional[str] = None, metadata: Optional[dict] = None) -> List[Dict]:
        body = {"sender": sender or f"t-{uuid.uuid4().hex[:12]}", "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        response = requests.post(self.webhook, json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def conversation(self, customer_id: Optional[str] = None) -> "Conversation":
        """A new REST conversation, as a signed-in customer (their token on every message) or anonymous."""
        sender = conversation_ids.issue(customer_id, self.settings.customer_token_secret)
        return Conversation(self, sender, self.token(customer_id) if customer_id else None)

    def tracker(self, sender: str) -> Dict:
        response = requests.get(
            f"{self.settings.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.settings.rasa_token},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, customer_id: str, secret: Optional[str] = None) -> str:
        s = self.settings
        return mint(customer_id, secret or s.customer_token_secret, s.customer_token_issuer, 3600)

    def api(self, method: str, path: str, agent: Optional[str] = "alice", **kwargs) -> requests.Response:
        """The escalation service's API as `agent` (None: without credentials)."""
        headers = {"Authorization": f"Bearer {agent_token(agent, self.settings.agent_token_secret)}"} if agent else {}
        return requests.request(method, f"{self.escalation_url}{path}", headers=headers, timeout=30, **kwargs)

    def kill(self, name: str) -> None:
        """`kill -9` of one process (launcher.ACTION_SERVER, RASA_SERVER or ESCALATION_SERVICE); returns
        once the supervisor has started it again and everything answers."""
        killed = self.supervisor.current(name)
        killed.process.kill()
        killed.process.wait()
        deadline = time.monotonic() + 60
        while self.supervisor.current(name) is killed:
            assert time.monotonic() < deadline, f"the {name} was not restarted"
            time.sleep(0.2)
        self.wait_until_up()

    def clear_queue(self) -> None:
        """Resolves every open handoff (as alice, who serves every queue), for tests that look at the
        queue as a whole; the conversations go back to the bot."""
        for status in ("assigned", "waiting"):
            for handoff in self.api("GET", f"/api/handoffs?status={status}").json():
                if handoff["status"] == "waiting":
                    self.api("POST", f"/api/handoffs/{handoff['id']}/claim").raise_for_status()
                elif handoff["agent_id"] != "alice":
                    continue
                self.api("POST", f"/api/handoffs/{handoff['id']}/resolve").raise_for_status()


@dataclass
class Conversation:
    bot: RunningBot
    id: str
    token: Optional[str]

    def send(self, text: str) -> List[Dict]:
        return self.bot.send(text, self.id, {"customer_token": self.token} if self.token else None)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    # Trains into models/ only when data, config or classifier code changed (Rasa's fingerprint).
    return train()


@contextmanager
def running_system(
    model: Path, tmp: Path, routing: str = "pull", on_shift: Tuple[str, ...] = ("alice", "bob"), **overrides
):
    """The whole system on throwaway databases and free ports, stopped on exit.

    The shared system routes by pull with alice and bob online all day (their presence lasts the whole
    session instead of a heartbeat's minute): its tests hand conversations over and claim them by
    hand, as in a pull deployment. Push routing has its own system (test_routing.py)."""
    # Every test signs in from 127.0.0.1: the per-address limit on failed sign-ins would let one test's
    # wrong passwords lock out the next (the limit itself is tested in-process, tests/unit/web).
    overrides.setdefault("SIGN_IN_FAILURES_PER_ADDRESS", "100000")
    if on_shift:
        overrides = {**launcher.ALL_DAY_PRESENCE, **overrides}
    settings = throwaway_settings(
        tmp, ESCALATION_RULES_FILE=write_round_the_clock_copy(tmp / "rules_24x7.yml", routing=routing), **overrides
    )
    migrate(settings.customer_db_url)
    seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
    with launcher.running_system(settings, model, tmp / "logs", kind=RunningBot) as running:
        running.put_on_shift(on_shift)
        yield running


@pytest.fixture(scope="session")
def bot(trained_model: Path, tmp_path_factory) -> RunningBot:
    with running_system(trained_model, tmp_path_factory.mktemp("system")) as running:
        yield running


PROJECT_PARTS = ("data", "bot", "config.yml", "tests/nlu", "tests/stories")


def copy_project(target: Path, model: Path) -> Path:
    """A copy of the bot project (what trainers edit) with `model` in its models/; returns the model's copy."""
    for part in PROJECT_PARTS:
        source = PROJECT_ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / part)
    (target / "models").mkdir()
    return Path(shutil.copy(model, target / "models" / model.name))


@contextmanager
def running_project_copy(model: Path, tmp: Path):
    """The whole system serving a copy of the bot project (BOT_PROJECT_DIR), for trainers' tests."""
    project = tmp / "project"
    project.mkdir()
    live = copy_project(project, model)
    with running_system(live, tmp, BOT_PROJECT_DIR=project) as running:
        yield running
