"""How fast the live relay is: an agent's message to the customer's widget, and a customer's message
to the agent's console, each goal under 1 second (issue: live handoff).

Starts the whole system on throwaway databases (round-the-clock rules), hands over a VIP
conversation, then times MESSAGES messages each way:
- agent -> customer: from the agent's POST /api/handoffs/{id}/messages until the widget's socket
  receives `bot_uttered`;
- customer -> agent: from the customer's `user_uttered` until the console's long-poll
  (GET .../messages?after=N&wait=S) returns the message.
The clients are the widget's protocol (tools/widget_client.py) and plain HTTP, on the same 2
cores as the servers; a browser adds its own rendering time on top.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import requests

from bench.common import REPORTS_DIR, write_report
from common.crm import CustomerRepository
from common.database import migrate
from common.rasa_commands import train
from common.settings import throwaway_settings
from common.tokens import mint
from escalation.queue.agents import agent_token
from escalation.rules_file import write_round_the_clock_copy
from tools import launcher
from tools.seed import seed_customers
from tools.widget_client import WidgetClient

MESSAGES = 40
GOAL_SECONDS = 1.0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def chart(samples: Dict[str, List[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.boxplot([[v * 1000 for v in values] for values in samples.values()], labels=list(samples), vert=False)
    ax.axvline(GOAL_SECONDS * 1000, color="#c62828", linestyle="--", label="goal: 1 s")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(f"Live relay latency, {MESSAGES} messages each way")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class NotRelayed(RuntimeError):
    """A message did not reach the other side within the wait."""


def measure(system: launcher.System, widget_url: Optional[str] = None, wait: float = 10) -> Dict[str, List[float]]:
    """`widget_url`: where the customer's socket connects (default: the system's Rasa address); the
    scaled benchmark points it at one replica so that agents' messages cross to it from the others."""
    settings = system.settings
    headers = {"Authorization": f"Bearer {agent_token('alice', settings.agent_token_secret)}"}
    api = system.escalation_url + "/api/handoffs"
    token = mint("demo-vip", settings.customer_token_secret, settings.customer_token_issuer, 3600)
    widget = WidgetClient(widget_url or settings.rasa_url, token)
    try:
        session_id = widget.request_session()
        widget.say(session_id, "I'm still waiting for my refund, this is the third time I ask!!!")
        widget.replies.get(timeout=30)
        handoff = next(
            h for h in requests.get(api, headers=headers, timeout=10).json() if h["conversation_id"] == session_id
        )
        requests.post(f"{api}/{handoff['id']}/claim", headers=headers, timeout=10).raise_for_status()
        widget.replies.get(timeout=10)  # the agent's greeting
        to_customer, to_agent = [], []
        for number in range(MESSAGES):
            text = f"agent message {number}"
            started = time.perf_counter()
            requests.post(
                f"{api}/{handoff['id']}/messages", json={"text": text}, headers=headers, timeout=10
            ).raise_for_status()
            assert widget.replies.get(timeout=10)["text"] == text
            to_customer.append(time.perf_counter() - started)
        cursor = requests.get(f"{api}/{handoff['id']}", headers=headers, timeout=10).json()["cursor"]
        for number in range(MESSAGES):
            text = f"customer message {number}"
            started = time.perf_counter()
            widget.say(session_id, text)
            while True:  # the console's loop: long-poll until the message is there
                if time.perf_counter() - started > wait:
                    raise NotRelayed(f"{text!r} did not reach the console's long-poll within {wait:.0f} s")
                update = requests.get(
                    f"{api}/{handoff['id']}/messages", params={"after": cursor, "wait": 10}, headers=headers, timeout=20
                ).json()
                cursor = update["cursor"]
                if any(m["text"] == text for m in update["messages"]):
                    break
            to_agent.append(time.perf_counter() - started)
    finally:
        widget.close()
    return {"agent -> customer widget": to_customer, "customer -> agent console": to_agent}


def main() -> Dict[str, List[float]]:
    model = train()
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        # Pull routing with alice on shift: the benchmark claims the conversation it times.
        settings = throwaway_settings(
            tmp,
            ESCALATION_RULES_FILE=write_round_the_clock_copy(tmp / "rules.yml", routing="pull"),
            **launcher.ALL_DAY_PRESENCE,
        )
        migrate(settings.customer_db_url)
        seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
        print("==> Starting the system", flush=True)
        with launcher.running_system(settings, model, tmp / "logs") as system:
            system.put_on_shift(["alice", "bob"])
            print(f"==> Timing {MESSAGES} messages each way", flush=True)
            samples = measure(system)
    chart(samples, REPORTS_DIR / "relay_latency.png")
    rows = []
    for name, values in samples.items():
        worst = max(values)
        rows.append(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
            f"{percentile(values, 0.95) * 1000:.0f} | {worst * 1000:.0f} | "
            f"{sum(v >= GOAL_SECONDS for v in values)} | {'met' if worst < GOAL_SECONDS else 'MISSED'} |"
        )
    body = "\n".join(
        [
            __doc__.split("\n\n", 1)[1].strip(),
            "",
            "| direction | messages | p50 ms | p95 ms | max ms | over 1 s | goal: every message under 1 s |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The console's long-poll checks the tracker store every 150 ms (escalation/web/app.py), which bounds the "
            "customer -> agent delay from below; agent -> customer is one Rasa HTTP call and a socket.io emit.",
            "",
            "![relay latency](relay_latency.png)",
        ]
    )
    path = write_report("relay_latency", "Live relay latency between agent console and customer widget", body)
    print(body)
    print(f"Report: {path}")
    return samples


if __name__ == "__main__":
    main()
