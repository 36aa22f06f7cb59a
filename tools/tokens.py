"""Prints a token, for trying the APIs by hand and for scripts:

python -m tools.tokens customer demo-vip   (make token CUSTOMER=demo-vip): a customer's identity token
python -m tools.tokens agent alice         (make agent-token AGENT=alice): the API token of an active
                                           account (agent, trainer or lead: make agent-token
                                           AGENT=lena for the demo lead) in the database, lasting
                                           AGENT_TOKEN_TTL_SECONDS
"""

from __future__ import annotations

import sys

from common.database import Database, migrate
from common.settings import load_settings
from common.tokens import mint
from escalation.queue.agents import AgentDirectory, agent_token

USAGE = (
    "usage: make token CUSTOMER=<customer id>   (e.g. CUSTOMER=demo-vip)\n"
    "       make agent-token AGENT=<name>       (an active account: make agent-list shows them)"
)


def main(argv: list) -> int:
    kind, name = (argv + ["", ""])[:2] if len(argv) == 2 else ("", "")
    if kind == "customer" and name:
        settings = load_settings()
        print(
            mint(
                name,
                settings.customer_token_secret,
                settings.customer_token_issuer,
                settings.customer_token_ttl_seconds,
            )
        )
        return 0
    if kind == "agent" and name:
        settings = load_settings()
        migrate(settings.customer_db_url)
        generation = AgentDirectory(Database.from_url(settings.customer_db_url)).token_generation(name)
        if generation is None:
            print(
                f"There is no active account named {name}: `make agent-list` shows the accounts, "
                "`make agent-add` creates one and `make agent-activate` turns one back on.",
                file=sys.stderr,
            )
            return 1
        print(agent_token(name, settings.agent_token_secret, settings.agent_token_ttl_seconds, generation))
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
