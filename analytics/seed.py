"""A realistic week of demo history, so the analytics page is never empty on a fresh clone:

    python -m analytics.seed --days 7 [--per-day 20] [--if-empty]   (the system must be running: `make demo`)
    python -m analytics.seed --remove

Generated customers (the CRM's generated ones, never the demo personas) chat with the REAL bot over
Rasa's REST channel (their identity token on every message, as the website sends it): FAQ questions,
messages it does not understand, complaints, asking for a person, cancelling, buying questions. The real
policy decides, the real action server enqueues and the real queue routes. Simulated agents (the demo
agents alice and bob, through the console's API: presence, claim, messages, resolve with a wrap-up code)
answer and resolve; some customers leave while waiting (the queue's own abandonment); most rate the help
through the bot's CSAT question afterwards.

Time: Rasa stamps events with the real time and cannot be back-dated, so each conversation is played now
and stands for a moment of the last `--days` days. Its `TimeMap` (analytics/facts.py; table
`analytics_seeded`) is what marks it seeded and puts its real times on the simulated ones, stretched
(x8 to x3000 by tier) so that an agent's answer a second or two later reads as minutes. Only the fact
table sees simulated times; the queue and the tracker keep the real ones.

`--remove` deletes every seeded conversation: its events in the tracker store, its handoffs (and their
notes and SLA events) in the queue, and its rows in the fact table. The ratings the seeded customers gave
stay in their CRM profiles (`python -m tools.seed` rewrites the CRM).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional, Tuple

import requests
import sqlalchemy as sa

from analytics.facts import TimeMap
from analytics.refresh import Refresher, TrackerEvents
from analytics.store import CHUNK, AnalyticsStore
from common import conversation_ids
from common.crm import CustomerRow
from common.database import Database, migrate
from common.names import DEMO_PERSONAS, HandoffStatus
from common.settings import Settings, load_settings
from common.tokens import mint
from escalation.queue.agents import AgentDirectory, agent_token
from escalation.queue.handoffs import Handoff, HandoffQueue, HandoffRow, NoteRow, SlaEventRow
from escalation.rules_file import load_rules

SEED = 20261124
AGENTS = ("alice", "bob")
WORKERS = 5  # conversations in flight: the bot on 2 cores answers each within a second or so
HEARTBEAT_SECONDS = 20
WAIT_FOR_SYSTEM_SECONDS = 180
MESSAGES = {
    "faq": [
        "how long does delivery take?",
        "how do I reset my password",
        "can I return an item I bought last week?",
        "where is my order",
        "what payment methods do you accept",
        "how do I change my delivery address",
        "do you ship to Canada?",
        "how do I update my billing details",
    ],
    "lost": ["qwxz blorft zzzk", "what's the best pizza topping in Naples?", "asdf qwerty zxcv", "blorp zing wox"],
    "mild": ["still waiting for my refund", "the app keeps logging me out, a bit annoying"],
    "angry": [
        "this is absolutely unacceptable, worst service ever, I am furious",
        "I have asked three times and nobody helps, this is ridiculous!!!",
    ],
    "person": ["I want to talk to a person", "can I speak to a human please"],
    "cancel": ["I want to cancel my membership", "please close my account, I'm leaving"],
    "buying": ["how much is the premium plan and what do I get?", "my card keeps getting declined when I try to pay"],
    "agent": [
        "Hi, thanks for waiting. I've read your conversation and I'm on it.",
        "I've checked your account: that's sorted now.",
        "Is there anything else I can help with?",
    ],
    "customer_to_agent": ["thank you", "ok, order 4417", "great, thanks a lot"],
}
# What a conversation is about (weights): most are routine questions the bot answers.
KINDS = (("faq", 46), ("lost", 9), ("mild", 8), ("angry", 10), ("person", 15), ("cancel", 7), ("buying", 5))
SCALE_BY_TIER = {"vip": (8, 25), "premium": (100, 500), "standard": (250, 1500), "free": (600, 3000)}
CLAIM_PATIENCE_SECONDS = 20
MAX_HANDOFFS_PER_CONVERSATION = 3
PROGRESS_EVERY = 20
ABANDON_SHARE = 0.08


@dataclass
class Progress:
    total: int
    done: int = 0
    handoffs: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self, handed: bool, failed: bool = False) -> None:
        with self.lock:
            self.done += 1
            self.handoffs += handed
            self.failed += failed
            line = (
                f"==> Demo history: {self.done}/{self.total} conversations played "
                f"({self.handoffs} handed to a person{f', {self.failed} failed' if self.failed else ''})"
            )
            if sys.stderr.isatty():  # one line that counts up
                print(f"\r{line}", end="", file=sys.stderr, flush=True)
            elif self.done % PROGRESS_EVERY == 0 or self.done == self.total:  # a log: a line now and then
                print(line, file=sys.stderr, flush=True)


class DemoPlayer:
    """Plays customers through the running bot and simulated agents through the console's API."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.queue = HandoffQueue(database)
        self.rules = load_rules(Path(settings.escalation_rules_file))
        directory = AgentDirectory(database)
        self.tokens = {
            name: agent_token(
                name, settings.agent_token_secret, settings.agent_token_ttl_seconds, directory.token_generation(name)
            )
            for name in AGENTS
            if directory.token_generation(name) is not None
        }
        self.queues_of = {name: directory.get(name).queues for name in self.tokens}
        self.service = f"http://127.0.0.1:{settings.escalation_port}"

    # --- the running system ----------------------------------------------------------------------

    def is_up(self) -> bool:
        try:
            return (
                requests.get(f"{self.service}/health", timeout=3).ok
                and requests.get(self.settings.rasa_url, timeout=3).ok
            )
        except requests.RequestException:
            return False  # not listening yet (make demo is still starting)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + WAIT_FOR_SYSTEM_SECONDS
        while not self.is_up():
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"The system is not running (Rasa at {self.settings.rasa_url}, the service at {self.service})."
                )
            time.sleep(2)

    def api(self, agent: str, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
        return requests.request(method, f"{self.service}{path}", headers=headers, timeout=30, **kwargs)

    def presence(self, status: str) -> None:
        for agent in self.tokens:
            self.api(agent, "POST", "/api/presence", json={"status": status})

    def say(self, conversation: str, token: Optional[str], text: str) -> List[dict]:
        body = {"sender": conversation, "message": text, "metadata": {"customer_token": token} if token else {}}
        response = requests.post(f"{self.settings.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    # --- one conversation ------------------------------------------------------------------------

    def play(
        self, customer: Tuple[str, str], rng: random.Random, store: AnalyticsStore, simulated_at: datetime
    ) -> bool:
        """One customer's conversation, start to end; True when a person was involved."""
        customer_id, tier = customer
        s = self.settings
        conversation = conversation_ids.issue(customer_id, s.customer_token_secret)
        token = mint(customer_id, s.customer_token_secret, s.customer_token_issuer, 3600)
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        store.mark_seeded(
            conversation,
            TimeMap(datetime.now(timezone.utc), simulated_at, rng.uniform(*SCALE_BY_TIER.get(tier, (200, 900)))),
        )
        script = ["hi"] if rng.random() < 0.4 else []
        if kind in ("faq", "lost"):
            script += [rng.choice(MESSAGES["lost"])] if kind == "lost" else []
            script += rng.sample(MESSAGES["faq"], rng.randint(1, 2))
        else:
            script += ([rng.choice(MESSAGES["faq"])] if rng.random() < 0.5 else []) + [rng.choice(MESSAGES[kind])]
        for text in script:
            self.say(conversation, token, text)
            handoff = self.queue.open_for(conversation)
            if handoff is not None:
                for _ in range(MAX_HANDOFFS_PER_CONVERSATION):
                    self.work(handoff, conversation, token, rng)
                    # A low rating can bring a person back at once (the policy's low-CSAT rule): work that too,
                    # so that no seeded chat is left holding an agent's slot.
                    handoff = self.queue.open_for(conversation)
                    if handoff is None:
                        break
                return True
            time.sleep(rng.uniform(0.1, 0.6))
        return False

    def _take_up(self, handoff: Handoff) -> Handoff:
        """The handoff once an agent has it: pushed to one by routing, or claimed by whoever serves its
        queue (pushed chats go out in order, so a claim may have to wait its turn, as a real agent's does)."""
        serving = [a for a in self.tokens if handoff.queue in self.queues_of[a]]
        deadline = time.monotonic() + CLAIM_PATIENCE_SECONDS
        while handoff.status == HandoffStatus.WAITING and time.monotonic() < deadline:
            if any(self.api(agent, "POST", f"/api/handoffs/{handoff.id}/claim").ok for agent in serving):
                break
            time.sleep(1)
            handoff = self.queue.get(handoff.id)
        return self.queue.get(handoff.id)

    def close_leftovers(self, conversation_ids: List[str]) -> int:
        """Resolves (or, still waiting, abandons) what the played conversations left open, so that no seeded
        chat keeps an agent's slot or sits in the demo queue."""
        closed = 0
        for conversation in conversation_ids:
            handoff = self.queue.open_for(conversation)
            if handoff is None:
                continue
            if handoff.status == HandoffStatus.WAITING:
                closed += self.queue.abandon(handoff.id, datetime.now(timezone.utc), "seeded demo history ended")
            elif handoff.agent_id in self.tokens:
                closed += self.api(handoff.agent_id, "POST", f"/api/handoffs/{handoff.id}/resolve").ok
        return closed

    def work(self, handoff: Handoff, conversation: str, token: str, rng: random.Random) -> None:
        """A simulated agent takes the handoff up, answers and resolves it; or the customer leaves while
        waiting. Then, most of the time, the customer rates the help."""
        self.queue.mark_demo_history([conversation])  # before it is resolved: never a measured handle time
        time.sleep(rng.uniform(0.2, 0.8))
        handoff = self.queue.get(handoff.id)
        now = datetime.now(timezone.utc)
        if handoff.status == HandoffStatus.WAITING and rng.random() < ABANDON_SHARE:
            if self.queue.abandon(handoff.id, now, "the customer left (seeded demo history)"):
                return
        handoff = self._take_up(handoff)
        if handoff.status == HandoffStatus.WAITING:  # nobody came in time: the customer gives up
            if self.queue.abandon(handoff.id, datetime.now(timezone.utc), "nobody free (seeded demo history)"):
                return
            handoff = self.queue.get(handoff.id)
        agent = handoff.agent_id
        if handoff.status != HandoffStatus.ASSIGNED or agent not in self.tokens:
            return
        for index in range(rng.randint(1, 2)):
            time.sleep(rng.uniform(0.3, 1.2))
            self.api(agent, "POST", f"/api/handoffs/{handoff.id}/messages", json={"text": MESSAGES["agent"][index]})
            if rng.random() < 0.6:
                time.sleep(rng.uniform(0.1, 0.5))
                self.say(conversation, token, rng.choice(MESSAGES["customer_to_agent"]))
        time.sleep(rng.uniform(0.3, 1.0))
        code = rng.choice(self.rules.workspace.codes_for(handoff.queue) or ("",)) or None
        self.api(agent, "POST", f"/api/handoffs/{handoff.id}/resolve", json={"resolution_code": code})
        if rng.random() < 0.7:
            happy = {"vip": 0.85, "premium": 0.75, "standard": 0.7}.get(handoff.tier, 0.6)
            score = rng.choice((4, 5)) if rng.random() < happy else rng.choice((1, 2, 3))
            time.sleep(rng.uniform(0.1, 0.4))
            self.say(conversation, token, f'/rate_csat{{"csat_score": {score}}}')


def _customers(database: Database) -> List[Tuple[str, str]]:
    """The CRM's generated customers (never the demo personas, whose profiles the demo relies on)."""
    with database.session() as session:
        rows = session.execute(sa.select(CustomerRow.customer_id, CustomerRow.tier)).all()
    return sorted((c, str(getattr(t, "value", t))) for c, t in rows if c not in DEMO_PERSONAS)


def simulated_moments(days: int, count: int, rules, rng: random.Random, now: datetime) -> List[datetime]:
    """When the conversations stand for: over the last `days` days, busier in the day than at night,
    none in the last hour (their stretched times stay in the past)."""
    moments = []
    weights = [1 if h < 7 or h >= 22 else 4 if 9 <= h < 18 else 2 for h in range(24)]
    today = now.astimezone(rules.timezone).date()
    while len(moments) < count:
        day = today - timedelta(days=rng.randrange(days))
        hour = rng.choices(range(24), weights)[0]
        local = datetime.combine(day, datetime.min.time(), tzinfo=rules.timezone) + timedelta(
            hours=hour, seconds=rng.randrange(3600)
        )
        if local.astimezone(timezone.utc) < now - timedelta(hours=1):
            moments.append(local.astimezone(timezone.utc))
    return sorted(moments)


def seed(settings: Settings, days: int, per_day: int) -> int:
    migrate(settings.customer_db_url)
    database = Database.from_url(settings.customer_db_url)
    store, player = AnalyticsStore(database), DemoPlayer(settings, database)
    customers = _customers(database)
    if not customers:
        raise SystemExit("No generated customers in the CRM: run `python -m tools.seed` first.")
    if not player.tokens:
        raise SystemExit("The simulated agents are the demo agents alice and bob: set DEMO_ACCOUNTS=true.")
    player.wait_until_up()
    rng = random.Random(SEED)
    now = datetime.now(timezone.utc)
    moments = simulated_moments(days, days * per_day, player.rules, rng, now)
    plays = [(rng.choice(customers), random.Random(rng.random()), at) for at in moments]
    progress = Progress(len(plays))
    stop = threading.Event()

    def heartbeat() -> None:  # the simulated agents stay online while the history is played
        while not stop.wait(HEARTBEAT_SECONDS):
            player.presence("online")

    player.presence("online")
    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(player.play, customer, r, store, at) for customer, r, at in plays]
            for future in as_completed(futures):
                try:
                    progress.step(future.result())
                except (requests.RequestException, RuntimeError) as error:
                    progress.step(False, failed=True)
                    print(f"\n  a conversation failed: {error}", file=sys.stderr)
        player.close_leftovers(store.seeded_ids())
    finally:
        stop.set()
        player.presence("offline")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    refresher = Refresher(
        store,
        TrackerEvents.for_tracker_store(settings.tracker_store_url),
        player.queue,
        player.rules,
        lambda: datetime.now(timezone.utc),
    )
    rebuilt = refresher.rebuild(store.seeded_ids(), datetime.now(timezone.utc))
    print(f"==> Demo history: {rebuilt} seeded conversations in the analytics", file=sys.stderr)
    return rebuilt


def remove(settings: Settings) -> int:
    migrate(settings.customer_db_url)
    database = Database.from_url(settings.customer_db_url)
    store = AnalyticsStore(database)
    ids = store.seeded_ids()
    tracker = TrackerEvents.for_tracker_store(settings.tracker_store_url)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with database.session() as session:
            handoff_ids = list(
                session.execute(sa.select(HandoffRow.id).where(HandoffRow.conversation_id.in_(chunk))).scalars()
            )
            for table in (NoteRow, SlaEventRow):
                session.execute(sa.delete(table).where(table.handoff_id.in_(handoff_ids)))
            session.execute(sa.delete(HandoffRow).where(HandoffRow.conversation_id.in_(chunk)))
        tracker.delete(chunk)
    store.forget(ids)
    print(f"==> Removed {len(ids)} seeded conversations (tracker events, handoffs, analytics rows)", file=sys.stderr)
    return len(ids)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Seeded demo history for the analytics page.")
    parser.add_argument("--days", type=int, default=7, help="spread over the last N days (default 7)")
    parser.add_argument("--per-day", type=int, default=20, help="conversations per day (default 20)")
    parser.add_argument("--remove", action="store_true", help="delete every seeded conversation")
    parser.add_argument("--if-empty", action="store_true", help="only when there is no seeded history yet")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.remove:
        remove(settings)
        return 0
    if args.if_empty:
        migrate(settings.customer_db_url)
        if AnalyticsStore(Database.from_url(settings.customer_db_url)).seeded_ids():
            print("==> Demo history: already there (python -m analytics.seed --remove deletes it)", file=sys.stderr)
            return 0
    if not 1 <= args.days <= 60 or not 1 <= args.per_day <= 200:
        parser.error("--days must be 1 to 60 and --per-day 1 to 200")
    seed(settings, args.days, args.per_day)
    return 0


if __name__ == "__main__":
    sys.exit(main())
