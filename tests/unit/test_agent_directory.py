"""Accounts on a real (throwaway, migrated) SQLite database: the migration that added capacity and
revocation, the demo accounts across restarts with DEMO_ACCOUNTS true and false, the operators'
account changes and what they do to tokens, and the sign-in throttle's arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from common.database import Database, engine_for, migrate
from common.settings import throwaway_settings
from common.tokens import verify
from escalation.queue.agents import (
    AGENT_TOKEN_ISSUER,
    AccountError,
    AgentDirectory,
    SignInFailureRow,
    SignInLimits,
    agent_from_token,
    agent_token,
)
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules
from service.wiring import build
from tests.support.database import migrated_database

SECRET = "agent-secret-" * 3
DEMO_PASSWORD = "demo-password"
QUEUES = load_rules(SHIPPED_RULES_FILE).queues


@pytest.fixture
def directory(tmp_path: Path) -> AgentDirectory:
    return AgentDirectory(migrated_database(tmp_path / "accounts.db"))


def signs_in(directory: AgentDirectory, name: str, password: str = DEMO_PASSWORD) -> bool:
    return directory.authenticate(name, password) is not None


def token_works(directory: AgentDirectory, token: str) -> bool:
    return agent_from_token(token, SECRET, directory) is not None


def test_the_migration_gives_existing_accounts_capacity_3_and_flags_the_demo_ones(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0002")
    with engine_for(url).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO agents (name, display_name, queues, active, role) VALUES "
            "('alice', 'Alice Martin', 'general', 1, 'agent'), ('zoe', 'Zoe Park', 'sales', 1, 'agent')"
        )
    migrate(url)
    accounts = {account.name: account for account in AgentDirectory(Database.from_url(url)).accounts()}
    assert (accounts["alice"].capacity, accounts["alice"].demo) == (3, True)
    assert (accounts["zoe"].capacity, accounts["zoe"].demo, accounts["zoe"].active) == (3, False, True)


def test_demo_accounts_follow_demo_accounts_across_restarts(directory):
    directory.sync_demo_accounts(True, DEMO_PASSWORD)
    token = agent_token("alice", SECRET)
    assert all(signs_in(directory, name) for name in ("alice", "bob", "tara", "lena")) and token_works(directory, token)
    assert (directory.get("lena").role, directory.get("lena").display_name, directory.get("lena").queues) == (
        "lead",
        "Lena",
        (),
    )

    directory.sync_demo_accounts(False, DEMO_PASSWORD)  # a restart with DEMO_ACCOUNTS=false
    assert not any(signs_in(directory, name) for name in ("alice", "bob", "tara", "lena"))
    assert not token_works(directory, token)
    assert {a.name: a.active for a in directory.accounts()} == {
        "alice": False,
        "bob": False,
        "lena": False,
        "tara": False,
    }

    directory.sync_demo_accounts(True, DEMO_PASSWORD)  # ... and true again: back, old tokens still dead
    assert signs_in(directory, "alice") and not token_works(directory, token)
    assert token_works(directory, agent_token("alice", SECRET, generation=directory.token_generation("alice")))


def test_an_operators_change_takes_a_demo_account_out_of_demo_accounts_hands(directory):
    directory.sync_demo_accounts(True, DEMO_PASSWORD)
    directory.deactivate("bob")
    directory.set_password("alice", "alice's own passphrase")
    directory.update("tara", display_name="Tara Novak-Reyes", known_queues=QUEUES)
    directory.update("lena", display_name="Lena Berg", known_queues=QUEUES)
    for enabled in (True, False, True):  # restarts
        directory.sync_demo_accounts(enabled, DEMO_PASSWORD)
        assert not signs_in(directory, "bob")  # deactivated by an operator: stays so
        assert signs_in(directory, "alice", "alice's own passphrase") and not signs_in(directory, "alice")
        assert directory.get("tara").display_name == "Tara Novak-Reyes"
        assert directory.get("lena").display_name == "Lena Berg"
    assert [a.demo for a in directory.accounts()] == [False, False, False, False]


def test_the_services_start_applies_demo_accounts(tmp_path):
    directory = AgentDirectory(Database.from_url(throwaway_settings(tmp_path).customer_db_url))
    build(throwaway_settings(tmp_path, DEMO_ACCOUNTS="true", DEMO_AGENT_PASSWORD=DEMO_PASSWORD))
    assert signs_in(directory, "alice")
    build(throwaway_settings(tmp_path, DEMO_ACCOUNTS="false", DEMO_AGENT_PASSWORD=DEMO_PASSWORD))
    assert not signs_in(directory, "alice") and directory.get("alice") is None


def test_adding_an_account_checks_everything(directory):
    carol = directory.add(
        "carol",
        role="agent",
        display_name="Carol Diaz",
        queues=("general", "sales"),
        capacity=5,
        password="a long enough one",
        known_queues=QUEUES,
    )
    assert (carol.queues, carol.capacity, carol.active, carol.demo) == (("general", "sales"), 5, True, False)
    assert signs_in(directory, "carol", "a long enough one") and directory.get("carol").capacity == 5
    good = dict(role="agent", display_name="Dan", queues=("general",), password="a long enough one")
    for changes, message in (
        ({"password": "short"}, "at least 12"),
        ({"queues": ("general", "billing")}, "Unknown queue(s) billing"),
        ({"queues": ()}, "at least one queue"),
        ({"role": "trainer"}, "A trainer serves no queue"),
        ({"role": "lead"}, "A lead serves no queue"),
        ({"role": "admin"}, "role must be one of"),
        ({"capacity": 0}, "between 1 and 50"),
        ({"capacity": 51}, "between 1 and 50"),
        ({"display_name": "  "}, "display name"),
    ):
        with pytest.raises(AccountError, match=message.replace("(", r"\(").replace(")", r"\)")):
            directory.add("dan", known_queues=QUEUES, **{**good, **changes})
    with pytest.raises(AccountError, match="already an account named carol"):
        directory.add("carol", known_queues=QUEUES, **good)
    with pytest.raises(AccountError, match="cannot be an account name"):
        directory.add("Dan Smith", known_queues=QUEUES, **good)
    assert [a.name for a in directory.accounts()] == ["carol"]


def test_changing_an_account(directory):
    directory.sync_demo_accounts(True, DEMO_PASSWORD)
    assert directory.update("bob", capacity=7, queues=("general",), known_queues=QUEUES).capacity == 7
    assert directory.get("bob").queues == ("general",)
    trainer = directory.update("bob", role="trainer", known_queues=QUEUES)
    assert (trainer.role, trainer.queues) == ("trainer", ())
    lead = directory.update("bob", role="lead", known_queues=QUEUES)
    assert (lead.role, lead.queues) == ("lead", ())
    with pytest.raises(AccountError, match="A lead serves no queue"):
        directory.update("lena", queues=("sales",), known_queues=QUEUES)
    with pytest.raises(AccountError, match="at least one queue"):
        directory.update("tara", role="agent", known_queues=QUEUES)
    assert directory.update("tara", role="agent", queues=("sales",), known_queues=QUEUES).role == "agent"
    with pytest.raises(AccountError, match="between 1 and 50"):
        directory.update("bob", capacity=60, known_queues=QUEUES)
    with pytest.raises(AccountError, match="no account named mallory"):
        directory.update("mallory", capacity=2, known_queues=QUEUES)
    with pytest.raises(AccountError, match="at least 12"):
        directory.set_password("bob", "short")


def test_revoking_one_token_and_all_of_them(directory):
    directory.sync_demo_accounts(True, DEMO_PASSWORD)
    kept, signed_out = agent_token("alice", SECRET), agent_token("alice", SECRET)
    expires = 2_000_000_000
    directory.revoke_token("alice", "some-other-id", expires, now=1_000.0)
    assert token_works(directory, signed_out)
    identity = verify(signed_out, SECRET, AGENT_TOKEN_ISSUER)
    directory.revoke_token("alice", identity.token_id, identity.expires_at, now=1_000.0)
    assert not token_works(directory, signed_out) and token_works(directory, kept)
    directory.revoke_token("alice", None, None, now=1_000.0)  # a token without an id: all of alice's go
    assert not token_works(directory, kept)
    assert token_works(directory, agent_token("bob", SECRET))


def test_revocations_are_pruned_once_the_tokens_have_expired(tmp_path):
    database = migrated_database(tmp_path / "accounts.db")
    directory = AgentDirectory(database)
    directory.revoke_token("alice", "old", 100, now=50.0)
    directory.revoke_token("alice", "new", 300, now=200.0)  # "old" expired at 100: its row goes
    with database.session() as session:
        assert session.execute(sa.text("SELECT token_id FROM revoked_tokens")).scalars().all() == ["new"]


def test_the_throttle_waits_for_enough_failures_to_leave_the_window(tmp_path):
    database = migrated_database(tmp_path / "accounts.db")
    throttle, limits = AgentDirectory(database).throttle, {"account:alice": 3}
    with database.session() as session:  # four failures: one more than allowed (say, from parallel guessers)
        session.add_all([SignInFailureRow(key="account:alice", at=at) for at in (0.0, 10.0, 20.0, 30.0)])
    # the next attempt may go once two have left: the one at 10 s leaves the 100 s window at 110 s
    assert throttle.begin(limits, now=50.0, window_seconds=100) == ([], 60)
    assert throttle.begin(limits, now=109.5, window_seconds=100) == ([], 1)
    attempt, retry_after = throttle.begin(limits, now=110.0, window_seconds=100)
    assert retry_after is None and len(attempt) == 1  # the rows at 0 and 10 s were pruned


def test_sign_in_counts_per_account_and_per_address(directory):
    directory.sync_demo_accounts(True, DEMO_PASSWORD)
    limits = SignInLimits(per_account=2, per_address=3, window_seconds=60)
    assert directory.sign_in("alice", "guess", "10.0.0.1", limits, now=0).agent is None
    assert directory.sign_in("alice", "guess", "10.0.0.2", limits, now=1).agent is None
    locked = directory.sign_in("alice", DEMO_PASSWORD, "10.0.0.3", limits, now=2)
    assert (locked.agent, locked.retry_after_seconds) == (None, 58)
    assert directory.sign_in("bob", "guess", "10.0.0.2", limits, now=3).agent is None
    assert directory.sign_in("tara", "guess", "10.0.0.2", limits, now=4).agent is None
    assert directory.sign_in("bob", DEMO_PASSWORD, "10.0.0.2", limits, now=5).retry_after_seconds == 56
    signed_in = directory.sign_in("bob", DEMO_PASSWORD, "10.0.0.9", limits, now=6)
    assert signed_in.agent.name == "bob" and signed_in.generation == 0
