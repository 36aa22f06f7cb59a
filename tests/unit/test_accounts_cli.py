"""`python -m tools.accounts` (make agent-add, agent-list, ...) on a throwaway database, with the
password piped on stdin as a script would."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from escalation.queue.agents import AgentDirectory, agent_from_token, agent_token
from escalation.rules_file import SHIPPED_RULES_FILE
from tests.support.database import migrated_database
from tools import accounts

SECRET = "agent-secret-" * 3
PASSWORD = "correct horse battery"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    for key, value in {
        "CUSTOMER_TOKEN_SECRET": "c" * 32,
        "RASA_TOKEN": "r" * 32,
        "AGENT_TOKEN_SECRET": SECRET,
        "DEMO_AGENT_PASSWORD": "demo-password",
        "ACTION_SERVER_TOKEN": "a" * 32,
        "CUSTOMER_DB_URL": url,
        "ESCALATION_RULES_FILE": str(SHIPPED_RULES_FILE),
    }.items():
        monkeypatch.setenv(key, value)

    def run(*argv: str, password: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        status = accounts.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    run.directory = lambda: AgentDirectory(migrated_database(tmp_path / "accounts.db"))
    return run


def add_carol(cli, *extra: str):
    return cli(
        "add", "carol", "--role", "agent", "--display-name", "Carol Diaz", "--queues", "general,sales", *extra,
        password=PASSWORD,
    )  # fmt: skip


def test_add_and_list(cli):
    status, out, _ = add_carol(cli, "--capacity", "4")
    assert status == 0 and "Added carol" in out
    assert cli("add", "tim", "--role", "trainer", "--display-name", "Tim Ode", password=PASSWORD)[0] == 0
    status, out, _ = cli("list")
    lines = out.splitlines()
    header = [cell.strip() for cell in lines[0].split("  ") if cell.strip()]
    assert status == 0 and header == ["name", "role", "display name", "queues", "capacity", "active", "demo"]
    assert lines[1].split() == ["carol", "agent", "Carol", "Diaz", "general,sales", "4", "yes", "no"]
    assert lines[2].split() == ["tim", "trainer", "Tim", "Ode", "-", "3", "yes", "no"]
    assert "pbkdf2" not in out and PASSWORD not in out
    assert cli.directory().authenticate("carol", PASSWORD).capacity == 4


@pytest.mark.parametrize(
    "extra, password, message",
    [
        ((), "too short", "at least 12 characters"),
        (("--queues", "general,billing"), PASSWORD, "Unknown queue(s) billing"),
        (("--capacity", "0"), PASSWORD, "between 1 and 50"),
        (("--capacity", "51"), PASSWORD, "between 1 and 50"),
    ],
)
def test_add_refuses_with_a_message(cli, extra, password, message):
    args = ["add", "carol", "--role", "agent", "--display-name", "Carol Diaz", "--queues", "general", *extra]
    status, out, err = cli(*args, password=password)
    assert status == 1 and message in err and out == ""
    assert cli("list")[1].count("\n") == 1  # the header only


def test_add_says_what_is_wrong_before_asking_for_the_password(cli):
    status, _, err = cli(*"add carol --role agent --display-name Carol --queues billing".split(), password=PASSWORD)
    assert status == 1 and "Unknown queue" in err and sys.stdin.tell() == 0  # the password was not read


def test_add_refuses_a_name_that_exists(cli):
    add_carol(cli)
    status, _, err = add_carol(cli)
    assert status == 1 and "already an account named carol" in err and "set carol" in err


def test_set_changes_what_is_given(cli):
    add_carol(cli)
    status, out, _ = cli("set", "carol", "--capacity", "6", "--queues", "concierge")
    assert status == 0 and "capacity 6" in out
    carol = cli.directory().get("carol")
    assert (carol.capacity, carol.queues, carol.display_name) == (6, ("concierge",), "Carol Diaz")
    assert cli("set", "carol", "--capacity", "99")[0] == 1
    assert cli("set", "carol")[2].startswith("Say what to change")
    status, _, err = cli("set", "nobody", "--capacity", "2")
    assert status == 1 and "no account named nobody" in err
    with pytest.raises(SystemExit):  # argparse: a capacity that is not a number
        cli("set", "carol", "--capacity", "lots")


def test_password_revokes_earlier_tokens(cli):
    add_carol(cli)
    directory = cli.directory()
    token = agent_token("carol", SECRET)
    assert agent_from_token(token, SECRET, directory) is not None
    assert cli("password", "carol", password="too short")[0] == 1
    status, out, _ = cli("password", "carol", password="a brand new passphrase")
    assert status == 0 and "earlier sign-ins have ended" in out
    assert agent_from_token(token, SECRET, directory) is None
    assert directory.authenticate("carol", PASSWORD) is None
    assert directory.authenticate("carol", "a brand new passphrase") is not None
    assert cli("password", "nobody", password="a brand new passphrase")[0] == 1


def test_deactivate_and_activate(cli):
    add_carol(cli)
    directory = cli.directory()
    token = agent_token("carol", SECRET)
    assert cli("deactivate", "carol")[0] == 0
    assert agent_from_token(token, SECRET, directory) is None and directory.authenticate("carol", PASSWORD) is None
    assert cli("list")[1].splitlines()[1].split()[-2:] == ["no", "no"]  # kept, inactive
    assert cli("activate", "carol")[0] == 0
    assert directory.authenticate("carol", PASSWORD) is not None
    assert agent_from_token(token, SECRET, directory) is None  # tokens from before stay revoked
    assert cli("deactivate", "nobody")[0] == 1


def test_operators_take_over_a_demo_account(cli):
    cli.directory().sync_demo_accounts(True, "demo-password")
    assert cli("set", "bob", "--capacity", "2")[0] == 0
    cli.directory().sync_demo_accounts(False, "demo-password")
    listed = {line.split()[0]: line.split() for line in cli("list")[1].splitlines()[1:]}
    assert listed["bob"][-2:] == ["yes", "no"] and listed["alice"][-2:] == ["no", "yes"]
