"""Rasa's own command line with this project's settings: `make rasa ARGS="..."` and `make shell`.

Rasa reads bot/endpoints.yml with `${...}` values from the environment and does not read `.env`; this
runs `rasa <args>` with every setting resolved from the environment, `.env` and the defaults (as the
rest of the product does), and with the project's domain, endpoints and credentials wherever the
command takes them and they were not given. `shell` also starts the action server for as long as the
shell runs, so custom actions (identity, escalation, CSAT) work as in `make demo`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import List

from common.rasa_commands import BOT_DIR, RASA, process_env
from common.settings import PROJECT_ROOT, load_settings

# Which of the project's files each Rasa command takes (and Rasa would otherwise look for at the root).
PROJECT_FILES = {
    "--domain": str(BOT_DIR / "domain.yml"),
    "--endpoints": str(BOT_DIR / "endpoints.yml"),
    "--credentials": str(BOT_DIR / "credentials.yml"),
}
TAKES = {
    ("run",): ("--endpoints", "--credentials"),
    ("shell",): ("--endpoints",),
    ("interactive",): ("--domain", "--endpoints"),
    ("test",): ("--domain", "--endpoints"),
    ("test", "core"): ("--endpoints",),
    ("train",): ("--domain",),
    ("train", "core"): ("--domain",),
    ("data", "validate"): ("--domain",),
}


def with_project_files(args: List[str]) -> List[str]:
    """`args` plus the project's files for the options the command takes and the caller left out."""
    words = tuple(a for a in args[:2] if not a.startswith("-"))
    takes = TAKES.get(words) or TAKES.get(words[:1], ())
    missing = [option for option in takes if option not in args]
    return args + [part for option in missing for part in (option, PROJECT_FILES[option])]


def main(argv: List[str]) -> int:
    if not argv:
        print('usage: make rasa ARGS="<rasa command and options>"   e.g. ARGS="data validate"', file=sys.stderr)
        return 2
    settings = load_settings()
    env = process_env(settings)
    command = [RASA, *with_project_files(argv)]
    if argv[0] != "shell":
        return subprocess.call(command, cwd=PROJECT_ROOT, env=env)
    from tools.launcher import start_action_server, wait_until_up

    actions = start_action_server(settings)
    try:
        wait_until_up(actions)
        return subprocess.call(command, cwd=PROJECT_ROOT, env={**env, "PYTHONUNBUFFERED": "1"})
    finally:
        actions.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
