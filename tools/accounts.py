"""Accounts of the people who sign in to the console (agents, trainers and team leads), for operators:

python -m tools.accounts add NAME --role agent|trainer|lead --display-name "Full Name" --queues general,sales
    [--capacity 3]   (trainers and leads: no --queues)
python -m tools.accounts list
python -m tools.accounts set NAME [--queues ..] [--capacity N] [--display-name ..] [--role ..]
python -m tools.accounts password NAME      (also signs the person out everywhere)
python -m tools.accounts deactivate NAME    (cannot sign in, signed out everywhere; the row stays)
python -m tools.accounts activate NAME

The Makefile has the same as `make agent-add` ... `make agent-activate`. A password is asked for twice
at the terminal, or read from the first line of stdin when it is not a terminal, so that scripts can
pipe it (`printf '%s\\n' "$PASSWORD" | make agent-password NAME=carol`). The valid queues are those of
the escalation rules (ESCALATION_RULES_FILE). The work is done by `AgentDirectory`; this only parses.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from common.database import Database, migrate
from common.settings import MissingSetting, load_settings
from escalation.core.rules import RulesError
from escalation.queue.agents import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    MIN_CAPACITY,
    ROLES,
    Account,
    AccountError,
    AgentDirectory,
)
from escalation.rules_file import load_rules

COLUMNS = ("name", "role", "display name", "queues", "capacity", "active", "demo")


def queue_list(text: str) -> Tuple[str, ...]:
    """ "general, sales" -> ("general", "sales"); "" -> ()."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def capacity_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from {MIN_CAPACITY} to {MAX_CAPACITY}") from None


def read_password(name: str) -> str:
    """From the terminal (asked twice), or the first line of stdin when that is not a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"New password for {name}: ")
    if getpass.getpass("The same again: ") != first:
        raise AccountError("The two passwords differ; nothing was changed. Run the command again.")
    return first


def table(accounts: Sequence[Account]) -> str:
    rows = [COLUMNS] + [
        (
            a.name,
            a.role,
            a.display_name,
            ",".join(a.queues) or "-",
            str(a.capacity),
            "yes" if a.active else "no",
            "yes" if a.demo else "no",
        )
        for a in accounts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def describe(account: Account) -> str:
    queues = f", queues {','.join(account.queues)}" if account.queues else ""
    state = "active" if account.active else "deactivated"
    return f"{account.name} ({account.role}, {account.display_name}{queues}, capacity {account.capacity}, {state})"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m tools.accounts", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="a new account (the password is asked for, or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--display-name", required=True)
    add.add_argument("--queues", type=queue_list, default=(), help="comma-separated; agents need at least one")
    add.add_argument("--capacity", type=capacity_number, default=DEFAULT_CAPACITY, help="conversations at once")
    commands.add_parser("list", help="every account (never a password hash)")
    change = commands.add_parser("set", help="change an account's queues, capacity, display name or role")
    change.add_argument("name")
    change.add_argument("--queues", type=queue_list)
    change.add_argument("--capacity", type=capacity_number)
    change.add_argument("--display-name")
    change.add_argument("--role", choices=ROLES)
    for command, text in (
        ("password", "a new password (asked for, or read from stdin); revokes the person's tokens"),
        ("deactivate", "the person cannot sign in, and their tokens are revoked; the account is kept"),
        ("activate", "the person can sign in again"),
    ):
        commands.add_parser(command, help=text).add_argument("name")
    return top


def run(args: argparse.Namespace, directory: AgentDirectory, known_queues: Tuple[str, ...]) -> str:
    if args.command == "list":
        return table(directory.accounts())
    if args.command == "add":
        details = dict(role=args.role, display_name=args.display_name, queues=args.queues, capacity=args.capacity)
        directory.check_new(args.name, known_queues=known_queues, **details)  # before asking for a password
        account = directory.add(args.name, password=read_password(args.name), known_queues=known_queues, **details)
        return f"Added {describe(account)}."
    if args.command == "set":
        changes = {
            key: value
            for key, value in (
                ("queues", args.queues),
                ("capacity", args.capacity),
                ("display_name", args.display_name),
                ("role", args.role),
            )
            if value is not None
        }
        if not changes:
            raise AccountError("Say what to change: --queues, --capacity, --display-name and/or --role.")
        return f"Now {describe(directory.update(args.name, known_queues=known_queues, **changes))}."
    if args.command == "password":
        directory.account(args.name)  # says so before asking for a password when there is no such account
        account = directory.set_password(args.name, read_password(args.name))
        return f"New password for {account.name}; their earlier sign-ins have ended."
    if args.command == "deactivate":
        return f"Deactivated {directory.deactivate(args.name).name}: cannot sign in, earlier sign-ins have ended."
    account = directory.activate(args.name)
    return f"Activated {describe(account)}."


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        known_queues = load_rules(Path(settings.escalation_rules_file)).queues
    except (MissingSetting, RulesError) as error:
        print(error, file=sys.stderr)
        return 1
    migrate(settings.customer_db_url)
    directory = AgentDirectory(Database.from_url(settings.customer_db_url))
    try:
        print(run(args, directory, known_queues))
    except AccountError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
