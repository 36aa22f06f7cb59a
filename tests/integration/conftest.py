"""A real system for integration tests: the trained model, a seeded CRM, the action server and
`rasa run` on free ports, with temporary databases. Started once per test session."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import requests
import yaml

from escalation.policy import RULES_FILE

from supportbot import conversation_ids, launcher
from supportbot.profiles import CustomerRepository
from supportbot.seed import seed_customers
from supportbot.settings import Settings
from supportbot.tokens import mint
from supportbot.settings import throwaway_settings


@dataclass
class RunningBot:
    settings: Settings
    model: Path
    rasa: launcher.Service
    actions: launcher.Service
    escalation: launcher.Service
    log_dir: Path

    @property
    def escalation_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.escalation_port}"

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
        response = requests.get(f"{self.settings.rasa_url}/conversations/{sender}/tracker",
                                params={"token": self.settings.rasa_token}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, customer_id: str, secret: Optional[str] = None) -> str:
        s = self.settings
        return mint(customer_id, secret or s.customer_token_secret, s.customer_token_issuer, 3600)

    def restart_rasa(self) -> None:
        self.rasa.stop()
        self.rasa = launcher.start_rasa(self.settings, self.model, log_dir=self.log_dir)
        launcher.wait_until_up(self.rasa)
        launcher.wait_for_model(self.settings)


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
    return launcher.train()


@pytest.fixture(scope="session")
def bot(trained_model: Path, tmp_path_factory) -> RunningBot:
    tmp = tmp_path_factory.mktemp("system")
    # The shipped rules with agents working around the clock, so results do not depend on the hour.
    rules = yaml.safe_load(RULES_FILE.read_text())
    rules["business_hours"]["days"] = {day: ["00:00", "24:00"] for day in rules["business_hours"]["days"]}
    (tmp / "rules_24x7.yml").write_text(yaml.safe_dump(rules))
    settings = throwaway_settings(tmp, ESCALATION_RULES_FILE=tmp / "rules_24x7.yml")
    seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
    log_dir = tmp / "logs"
    actions = launcher.start_action_server(settings, log_dir=log_dir)
    rasa = launcher.start_rasa(settings, trained_model, log_dir=log_dir)
    escalation = launcher.start_escalation_service(settings, log_dir=log_dir)
    running = RunningBot(settings, trained_model, rasa, actions, escalation, log_dir)
    try:
        for service in (actions, rasa, escalation):
            launcher.wait_until_up(service)
        launcher.wait_for_model(settings)
        yield running
    finally:
        running.rasa.stop()
        actions.stop()
        escalation.stop()
