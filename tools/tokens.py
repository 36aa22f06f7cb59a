"""Prints a token, for trying the APIs by hand and for scripts:

python -m tools.tokens customer demo-vip   (make token CUSTOMER=demo-vip): a customer's identity token
python -m tools.tokens agent alice         (make agent-token AGENT=alice): an agent's or trainer's API token
"""

from __future__ import annotations

import sys

from common.settings import load_settings
from common.tokens import mint
from escalation.queue.agents import DEMO_AGENTS, agent_token

USAGE = (
    "usage: make token CUSTOMER=<customer id>   (e.g. CUSTOMER=demo-vip)\n"
    "       make agent-token AGENT=<name>       (demo accounts: {agents})"
)


def main(argv: list) -> int:
    agents = [name for name, _, _, _ in DEMO_AGENTS]
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
    if kind == "agent" and name in agents:
        print(agent_token(name, load_settings().agent_token_secret))
        return 0
    print(USAGE.format(agents=", ".join(agents)), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
