"""The human queue on real databases, made by the migrations: SQLite (file) and PostgreSQL (localhost);
the unit of work; and the upgrade of a database made before migrations existed."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from common.crm import CustomerRepository
from common.database import MIGRATIONS_DIR, Database, current_revision, migrate
from common.settings import DEFAULTS, MissingSetting, load_settings
from escalation.queue.handoffs import ASSIGNED, RESOLVED, WAITING, ClaimConflict, HandoffQueue
from tools.seed import demo_personas

try:
    POSTGRES_ADMIN_URL = load_settings().test_postgres_url  # environment, then .env, then default
except MissingSetting:  # no .env yet: the default still applies
    POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", DEFAULTS["TEST_POSTGRES_URL"])
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def sqlite_engine(tmp_path):
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'queue.db'}", future=True, connect_args={"check_same_thread": False, "timeout": 60}
    )

    @sa.event.listens_for(engine, "connect")
    def _wal(connection, _):
        connection.execute("PRAGMA journal_mode=WAL")

    return engine


def migrated(engine) -> Database:
    migrate(str(engine.url))
    return Database(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path)
        yield migrated(engine)
        engine.dispose()
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as connection:
            name = f"support_test_{uuid.uuid4().hex[:10]}"
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({error.orig}); set TEST_POSTGRES_URL")
    engine = sa.create_engine(admin.url.set(database=name), future=True, pool_size=25, max_overflow=5)
    try:
        yield migrated(engine)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def queue(database):
    return HandoffQueue(database)


def enqueue(queue, conversation, tier="standard", priority=3, sla=3600, now=T0, name="general"):
    return queue.enqueue(
        conversation,
        f"cust-{conversation}",
        tier,
        {"tier": tier},
        name,
        priority,
        [{"code": "asked_for_person", "text": "test reason"}],
        sla,
        now,
    )


def test_enqueue_is_idempotent_per_conversation(queue):
    first = enqueue(queue, "c1")
    again = enqueue(queue, "c1", priority=1)
    assert again.id == first.id and again.priority == 3
    assert len(queue.list(WAITING)) == 1


def test_order_is_sla_due_time_then_priority(queue):
    enqueue(queue, "standard-early", "standard", 3, sla=3600, now=T0)
    enqueue(queue, "vip-later", "vip", 1, sla=120, now=T0 + timedelta(minutes=5))
    enqueue(queue, "premium", "premium", 2, sla=600, now=T0 + timedelta(minutes=1))
    order = [h.conversation_id for h in queue.list(WAITING)]
    assert order == ["vip-later", "premium", "standard-early"]


def test_claim_resolve_and_a_new_handoff_afterwards(queue):
    handoff = enqueue(queue, "c2")
    claimed = queue.claim(handoff.id, "alice", T0)
    assert claimed.status == ASSIGNED and claimed.agent_id == "alice"
    with pytest.raises(ClaimConflict):
        queue.claim(handoff.id, "bob", T0)
    with pytest.raises(ClaimConflict):
        queue.resolve(handoff.id, "bob", T0)  # not bob's
    assert queue.resolve(handoff.id, "alice", T0).status == RESOLVED
    assert enqueue(queue, "c2").id != handoff.id  # the conversation can be handed over again


def test_silent_agent_loses_the_lease(queue):
    handoff = enqueue(queue, "c3")
    queue.claim(handoff.id, "alice", T0, lease=timedelta(minutes=5))
    assert queue.release_expired_leases(T0 + timedelta(minutes=4)) == 0
    queue.heartbeat(handoff.id, "alice", T0 + timedelta(minutes=4))
    assert queue.release_expired_leases(T0 + timedelta(minutes=8)) == 0
    assert queue.release_expired_leases(T0 + timedelta(minutes=10)) == 1
    back = queue.get(handoff.id)
    assert back.status == WAITING and back.agent_id is None
    assert queue.claim(handoff.id, "bob", T0 + timedelta(minutes=11)).agent_id == "bob"


def test_sla_breach_is_recorded_once(queue):
    enqueue(queue, "slow", sla=120)
    assert queue.record_sla_breaches(T0 + timedelta(minutes=1)) == 0
    assert queue.record_sla_breaches(T0 + timedelta(minutes=3)) == 1
    assert queue.record_sla_breaches(T0 + timedelta(minutes=9)) == 0
    assert queue.list(WAITING)[0].sla_breached_at == T0 + timedelta(minutes=3)


def test_transfer_returns_it_to_another_queue(queue):
    handoff = enqueue(queue, "c4")
    queue.claim(handoff.id, "alice", T0)
    moved = queue.transfer(handoff.id, "alice", "retention", T0)
    assert (moved.status, moved.queue, moved.agent_id) == (WAITING, "retention", None)


def test_twenty_agents_claim_500_handoffs_each_exactly_once(queue):
    for index in range(500):
        enqueue(queue, f"conv-{index:03d}", priority=1 + index % 4, sla=60 * (1 + index % 7))
    claimed = {f"agent-{n}": [] for n in range(20)}
    errors = []
    start = threading.Barrier(20)

    def work(agent):
        try:
            start.wait()
            while True:
                handoff = queue.claim_next(agent, T0)
                if handoff is None:
                    return
                claimed[agent].append(handoff.id)
        except Exception as error:  # surfaced below: a thread must not die silently
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(agent,)) for agent in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    all_claims = [h for ids in claimed.values() for h in ids]
    assert len(all_claims) == 500 and len(set(all_claims)) == 500  # none lost, none twice
    assert not queue.list(WAITING)
    owners = {h.id: h.agent_id for h in queue.list(ASSIGNED, limit=1000)}
    assert all(owners[h] == agent for agent, ids in claimed.items() for h in ids)
    assert sum(1 for ids in claimed.values() if ids) > 1  # the work really was shared


def test_a_csat_rating_goes_to_handoff_and_profile_together_or_not_at_all(database):
    queue, customers = HandoffQueue(database), CustomerRepository(database)
    customers.save_all(demo_personas())
    handoff = queue.enqueue("c-csat", "demo-vip", "vip", {}, "concierge", 1, [], 120, T0)
    queue.claim(handoff.id, "alice", T0)
    queue.resolve(handoff.id, "alice", T0)
    with pytest.raises(RuntimeError):
        with database.unit_of_work():
            queue.record_csat(handoff.id, 2, T0)
            customers.record_csat("demo-vip", 2)
            raise RuntimeError("the process dies between the two writes")
    assert queue.get(handoff.id).csat is None and customers.get("demo-vip").last_csat == 5  # neither
    with database.unit_of_work():
        queue.record_csat(handoff.id, 2, T0)
        customers.record_csat("demo-vip", 2)
    assert queue.get(handoff.id).csat == 2 and customers.get("demo-vip").last_csat == 2  # both


# The schema as the product created it before migrations existed (SQLAlchemy create_all), oldest
# columns only: handoffs without channel/csat, agents without role/password_hash.
PRE_MIGRATION_SCHEMA = (
    "CREATE TABLE handoffs (id VARCHAR(36) PRIMARY KEY, conversation_id VARCHAR(128) NOT NULL, "
    "open_key VARCHAR(128) UNIQUE, customer_id VARCHAR(64), tier VARCHAR(16) NOT NULL, segment TEXT NOT NULL, "
    "queue VARCHAR(32) NOT NULL, priority INTEGER NOT NULL, reasons TEXT NOT NULL, status VARCHAR(16) NOT NULL, "
    "agent_id VARCHAR(64), created_at DATETIME NOT NULL, sla_due_at DATETIME NOT NULL, claimed_at DATETIME, "
    "lease_expires_at DATETIME, resolved_at DATETIME, sla_breached_at DATETIME)",
    "CREATE TABLE agents (name VARCHAR(64) PRIMARY KEY, display_name VARCHAR(120) NOT NULL, "
    "queues VARCHAR(200) NOT NULL, active BOOLEAN NOT NULL)",
    "INSERT INTO handoffs VALUES ('old', 'c-old', 'c-old', NULL, 'vip', '{}', 'concierge', 1, "
    '\'["customer asked for a person", "bot did not understand 2 message(s)", "vip customer, active", '
    "\"something else\"]', 'waiting', NULL, '2026-11-24 09:00:00', '2026-11-25 09:00:00', NULL, NULL, NULL, NULL)",
    "INSERT INTO agents VALUES ('alice', 'Alice Martin', 'concierge,general', 1)",
)


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_a_database_made_before_migrations_upgrades_without_loss(tmp_path):
    engine = sqlite_engine(tmp_path)
    with engine.begin() as connection:
        for statement in PRE_MIGRATION_SCHEMA:
            connection.exec_driver_sql(statement)
    database = migrated(engine)
    assert current_revision(str(engine.url)) == head_revision()
    old = HandoffQueue(database).get("old")
    assert old.channel == "live_chat" and old.status == "waiting" and old.csat is None
    assert old.reason_codes == ["asked_for_person", "not_understood", "segment", "unknown"]
    assert old.reasons[1]["text"] == "bot did not understand 2 message(s)"  # the words are kept
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT role, display_name FROM agents").all() == [("agent", "Alice Martin")]
        assert "reviews" in sa.inspect(connection).get_table_names()  # what was missing was created
    assert enqueue(HandoffQueue(database), "c-new").channel == "live_chat"
    migrate(str(engine.url))  # again: nothing to do


def test_push_routing_races_never_double_assign_nor_overfill(database):
    """Issue 12's target: 20 agents and 1,000 handoffs on PostgreSQL (300 on SQLite, which runs one
    writer at a time anyway); four routers (as in several service processes and action servers)
    assign at once while every agent claims the next chat by hand and resolves chats: no handoff ever
    has two agents, and no agent is ever over capacity."""
    total = 1000 if database.engine.dialect.name == "postgresql" else 300
    from escalation.core.rules import parse_rules, round_the_clock
    from escalation.queue.agents import AgentDirectory, AgentRow
    from escalation.queue.routing import Router
    from escalation.rules_file import SHIPPED_RULES_FILE, read_rules_mapping

    queue, directory = HandoffQueue(database), AgentDirectory(database)
    capacity = {f"agent-{n:02d}": 1 + n % 4 for n in range(20)}  # 1 to 4 chats at once
    with database.session() as session:
        for name, most in capacity.items():
            session.add(AgentRow(name=name, display_name=name, queues="general", capacity=most, active=True))
    for name in capacity:
        directory.set_presence(name, "online", T0)
    for index in range(total):
        enqueue(queue, f"race-{index:04d}", priority=1 + index % 4, sla=60 * (1 + index % 7))
    router = Router(queue, directory, parse_rules(round_the_clock(read_rules_mapping(SHIPPED_RULES_FILE))), 10**9)
    over_capacity, errors, resolved = [], [], []
    done = threading.Event()

    def routing():
        try:
            while not done.is_set():
                if not router.assign_waiting(T0):
                    done.wait(0.01)  # nothing to assign now: let the agents work
        except Exception as error:
            errors.append(repr(error))

    def working(agent):
        try:
            while not done.is_set():
                try:
                    queue.claim_next(agent, T0, capacity=capacity[agent])  # by hand, racing the routers
                except ClaimConflict:
                    pass
                mine = queue.list(ASSIGNED, agent_id=agent, queues=[], limit=10)
                for handoff in mine[:1]:
                    queue.resolve(handoff.id, agent, T0)
                    resolved.append(handoff.id)
        except Exception as error:
            errors.append(repr(error))

    def watching():
        while not done.is_set():
            for agent, count in queue.open_counts().items():
                if count > capacity[agent]:
                    over_capacity.append((agent, count))
            if len(resolved) >= total:
                done.set()
            done.wait(0.005)

    threads = [threading.Thread(target=routing) for _ in range(4)]
    threads += [threading.Thread(target=working, args=(agent,)) for agent in capacity]
    threads.append(threading.Thread(target=watching))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    done.set()
    assert not errors, errors[:3]
    assert not over_capacity, over_capacity[:5]
    assert len(resolved) == total and len(set(resolved)) == total
    for handoff in queue.list(RESOLVED, limit=2000):
        taken = [entry for entry in handoff.routing_log if entry["event"] in ("assigned", "claimed")]
        assert len(taken) == 1 and taken[0]["agent"] == handoff.agent_id, handoff.routing_log  # one agent, ever
    pushed = sum(1 for h in queue.list(RESOLVED, limit=2000) if h.routing_log[0]["event"] == "assigned")
    assert 0 < pushed < total  # both ways of taking a chat really raced


def test_one_process_of_several_holds_the_upkeep_lease(database):
    """Issue 14, step 3: the queue's upkeep runs in one escalation-service process at a time; another
    takes over when the holder stops renewing (crash) or gives it up (clean stop)."""
    from common.leases import JobLease

    ttl = timedelta(seconds=15)
    leases = [JobLease(database, "queue-upkeep", ttl, holder=f"process-{n}") for n in range(8)]
    results = []
    start = threading.Barrier(len(leases))

    def contend(lease):
        start.wait()
        results.append((lease.holder, lease.held(T0)))

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    holders = [holder for holder, held in results if held]
    assert len(holders) == 1, results  # never two at once
    holder = next(lease for lease in leases if lease.holder == holders[0])
    others = [lease for lease in leases if lease is not holder]
    assert holder.held(T0 + timedelta(seconds=10))  # renewed: until T0 + 25 s now
    assert not any(lease.held(T0 + timedelta(seconds=20)) for lease in others)
    successor = others[0]
    assert successor.held(T0 + timedelta(seconds=26))  # the holder stopped renewing: taken over
    assert not holder.held(T0 + timedelta(seconds=27))
    successor.release()  # a clean stop
    assert others[1].held(T0 + timedelta(seconds=28))
