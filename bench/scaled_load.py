"""The same 8-turn conversation load against `make demo` and `make demo-scaled` with 1 and 2 Rasa
replicas, in one run; then the agent-message relay across replicas.

Three systems, one after another, on this machine: `make demo`'s (one Rasa server, SQLite, in-memory
lock store), and the scaled configuration (PostgreSQL, Redis lock store, RabbitMQ event broker, nginx in
front, one action server, two escalation-service processes) with RASA_REPLICAS=1 and then 2. Each gets
the load generator of bench/latency.py (REST channel, each conversation's 8 messages in sequence, C
conversations at once) at C = 50 and C = 200. Then, on the 2-replica system, the customer's widget
connects to replica 1 and an agent sends 40 messages through the escalation service (nginx gives its
Rasa calls to both replicas in turn), timed until the widget receives each, and 40 customer messages
are timed until the console's long-poll returns them.

The load generator, nginx, PostgreSQL, Redis and RabbitMQ share the machine's cores with the Rasa
processes: what a replica adds is bounded by the cores left to it. `python -m bench.scaled_load --quick`
runs a short version (fewer conversations) to check that everything works.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from bench import latency, relay_latency
from bench.common import REPORTS_DIR, MissingBenchData, write_report
from common import conversation_ids
from common.crm import CustomerRepository
from common.database import migrate
from common.rasa_commands import train
from common.settings import Settings, throwaway_settings
from common.tokens import mint
from escalation.rules_file import write_round_the_clock_copy
from tools import launcher, scaled
from tools.seed import seed_customers

CONCURRENCY = (50, 200)
CONVERSATIONS = {50: 150, 200: 400}
QUICK_CONVERSATIONS = {50: 50, 200: 200}
TARGET_SPEEDUP = 1.6
DEMO, SCALED_1, SCALED_2 = "make demo (1 Rasa, SQLite)", "demo-scaled, 1 replica", "demo-scaled, 2 replicas"


@dataclass
class Run:
    """What one system measured."""

    system: str
    results: List[latency.Result] = field(default_factory=list)
    relay: Dict[str, List[float]] = field(default_factory=dict)
    relay_problem: Optional[str] = None
    cpu_seconds: Dict[str, float] = field(default_factory=dict)  # per kind of process, during the load


def identities(settings: Settings) -> Callable[[int], Tuple[str, Optional[dict]]]:
    """The conversations of bench/latency.py: demo personas with their tokens, and anonymous visitors."""
    personas = ["demo-vip", "demo-standard", "demo-free", None]

    def identity(index: int) -> Tuple[str, Optional[dict]]:
        persona = personas[index % len(personas)]
        sender = conversation_ids.issue(persona, settings.customer_token_secret)
        if persona is None:
            return sender, None
        token = mint(persona, settings.customer_token_secret, settings.customer_token_issuer, 3600)
        return sender, {"customer_token": token}

    return identity


def _cpu_seconds(pids: Dict[str, List[int]]) -> Dict[str, float]:
    """CPU time (user + system) used so far by each kind of process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {}
    for kind, numbers in pids.items():
        total = 0.0
        for pid in numbers:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, IndexError, ValueError):
                continue
        totals[kind] = total
    return totals


def load(run: Run, settings: Settings, conversations: Dict[int, int], pids: Dict[str, List[int]]) -> None:
    url = f"{settings.rasa_url}/webhooks/rest/webhook"
    latency.wait_for_replies(url)
    before = _cpu_seconds(pids)
    for concurrency in CONCURRENCY:
        print(f"   {run.system}: {concurrency} concurrent conversations x {latency.TURNS} turns ...", flush=True)
        result = asyncio.run(
            latency.load(url, latency.BOT_SCRIPT, concurrency, conversations[concurrency], identities(settings))
        )
        result.system = run.system
        print(
            f"      p50 {result.percentile(0.5):.0f} ms, p95 {result.percentile(0.95):.0f} ms, "
            f"p99 {result.percentile(0.99):.0f} ms, {result.throughput:.1f} msg/s, errors {result.errors}",
            flush=True,
        )
        run.results.append(result)
    after = _cpu_seconds(pids)
    run.cpu_seconds = {kind: after[kind] - before.get(kind, 0.0) for kind in after}


def _service_pids(supervisor: launcher.Supervisor, names: Dict[str, List[str]]) -> Dict[str, List[int]]:
    return {kind: [supervisor.current(n).process.pid for n in members] for kind, members in names.items()}


def measure_demo(model: Path, work: Path, conversations: Dict[int, int]) -> Run:
    run = Run(DEMO)
    settings = throwaway_settings(work)
    migrate(settings.customer_db_url)
    seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
    print(f"==> {DEMO}: starting", flush=True)
    with launcher.running_system(settings, model, work / "logs") as system:
        names = {
            "Rasa": [launcher.RASA_SERVER],
            "action server": [launcher.ACTION_SERVER],
            "service": [launcher.ESCALATION_SERVICE],
        }
        load(run, settings, conversations, _service_pids(system.supervisor, names))
    return run


def _machine_service_pids() -> List[int]:
    """PostgreSQL, Redis and RabbitMQ are the machine's services: their CPU time includes other clients'."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "redis-server", "beam.smp"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def measure_scaled(model: Path, work: Path, replicas: int, conversations: Dict[int, int], relay: bool) -> Run:
    run = Run(SCALED_2 if replicas == 2 else SCALED_1)
    name = f"larkspur_bench_{uuid.uuid4().hex[:8]}"
    settings = throwaway_settings(
        work,
        **scaled.throwaway_services(name),
        SCALED_PORT_BASE=scaled.free_port_base(),
        RASA_REPLICAS=replicas,
        ACTION_SERVERS=1,
        SERVICE_PROCESSES=2,
        ESCALATION_RULES_FILE=write_round_the_clock_copy(work / "rules.yml", routing="pull"),
        **launcher.ALL_DAY_PRESENCE,
    )
    print(f"==> {run.system}: starting", flush=True)
    try:
        with scaled.running_scaled_system(settings, model, work / "run") as system:
            names = {
                "Rasa": system.rasa_names,
                "action server": system.action_names,
                "service": system.service_names,
                "nginx": [scaled.PROXY],
            }
            pids = {**_service_pids(system.supervisor, names), "PostgreSQL, Redis, RabbitMQ": _machine_service_pids()}
            load(run, settings, conversations, pids)
            if relay:
                system.put_on_shift(["alice", "bob"])
                print(f"==> {run.system}: agent messages to a widget on replica 1", flush=True)
                try:
                    run.relay = relay_latency.measure(system, widget_url=system.layout.rasa_urls[0])
                except Exception as problem:  # reported in the table, not hidden
                    run.relay_problem = f"{type(problem).__name__}: {problem}"
    finally:
        scaled.drop_throwaway_services(settings)
    return run


def chart(runs: List[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(runs)
    for n, run in enumerate(runs):
        xs = [i + n * width for i in range(len(CONCURRENCY))]
        left.bar(xs, [r.throughput for r in run.results], width, label=run.system)
        right.bar(xs, [r.percentile(0.95) for r in run.results], width, label=f"{run.system}")
    for axis, title, unit in ((left, "Throughput", "messages / s"), (right, "p95 turn latency", "ms")):
        axis.set_xticks([i + width * (len(runs) - 1) / 2 for i in range(len(CONCURRENCY))])
        axis.set_xticklabels([f"{c} concurrent" for c in CONCURRENCY])
        axis.set(title=title, ylabel=unit)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(runs: List[Run], conversations: Dict[int, int], quick: bool) -> str:
    by = {(r.system, r.concurrency): r for run in runs for r in run.results}
    lines = [
        __doc__.split("\n\n", 1)[1].strip(),
        "",
        f"Conversations per level: {conversations}" + (" (a short run: --quick)" if quick else "") + ".",
        "",
        "| system | concurrent conversations | messages | p50 ms | p95 ms | p99 ms | messages/s | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in run.results:
            lines.append(
                f"| {run.system} | {r.concurrency} | {len(r.latencies_ms)} | {r.percentile(0.5):.0f} | "
                f"{r.percentile(0.95):.0f} | {r.percentile(0.99):.0f} | {r.throughput:.1f} | {r.errors} |"
            )
    lines += ["", "CPU seconds used during the load (both levels), by kind of process:", ""]
    kinds = sorted({kind for run in runs for kind in run.cpu_seconds})
    lines += ["| system | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for run in runs:
        lines.append(f"| {run.system} | " + " | ".join(f"{run.cpu_seconds.get(k, 0):.0f}" for k in kinds) + " |")
    lines.append("")
    one, two = by.get((SCALED_1, 200)), by.get((SCALED_2, 200))
    if one and two:
        speedup = two.throughput / one.throughput
        verdict = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
        lines.append(
            f"- 2 replicas vs 1 at 200 concurrent conversations: {speedup:.2f}x the throughput "
            f"(target >= {TARGET_SPEEDUP}x: {verdict})."
        )
    demo = by.get((DEMO, 200))
    if demo and one:
        lines.append(
            f"- demo-scaled with 1 replica vs make demo at 200: {one.throughput / demo.throughput:.2f}x "
            "(what PostgreSQL, Redis, RabbitMQ and the proxy cost, or save, per message)."
        )
    relay_run = next((run for run in runs if run.relay or run.relay_problem), None)
    if relay_run is not None:
        lines += ["", "Relay across replicas (widget on replica 1):", ""]
        if relay_run.relay:
            lines += [
                "| direction | messages | p50 ms | p95 ms | max ms | over 1 s | goal: every message under 1 s |",
                "|---|---|---|---|---|---|---|",
            ]
            for direction, values in relay_run.relay.items():
                worst = max(values)
                lines.append(
                    f"| {direction} | {len(values)} | {sorted(values)[len(values) // 2] * 1000:.0f} | "
                    f"{relay_latency.percentile(values, 0.95) * 1000:.0f} | {worst * 1000:.0f} | "
                    f"{sum(v >= relay_latency.GOAL_SECONDS for v in values)} | "
                    f"{'met' if worst < relay_latency.GOAL_SECONDS else 'MISSED'} |"
                )
        if relay_run.relay_problem:
            lines.append(f"- Relay not measured to the end: {relay_run.relay_problem} (MISSED).")
    lines += ["", "![scaled load](scaled_load.png)"]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> List[Run]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer conversations: checks that it all works")
    args = parser.parse_args(argv or [])
    conversations = QUICK_CONVERSATIONS if args.quick else CONVERSATIONS
    with tempfile.TemporaryDirectory() as tmp:
        missing = scaled.problems(throwaway_settings(Path(tmp), **scaled.throwaway_services("postgres")))
    if missing:  # make bench goes on with the other benchmarks
        raise MissingBenchData("The scaled load benchmark needs these services: " + " ".join(missing))
    model = train()
    runs = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for index, step in enumerate(
            (
                lambda d: measure_demo(model, d, conversations),
                lambda d: measure_scaled(model, d, 1, conversations, relay=False),
                lambda d: measure_scaled(model, d, 2, conversations, relay=True),
            )
        ):
            folder = work / f"system-{index}"
            folder.mkdir()
            runs.append(step(folder))
    REPORTS_DIR.mkdir(exist_ok=True)
    chart(runs, REPORTS_DIR / "scaled_load.png")
    body = report(runs, conversations, args.quick)
    body += f"\n\nThe whole run took {(time.monotonic() - started) / 60:.0f} minutes."
    path = write_report("scaled_load", "Scaled configuration: load with 1 and 2 Rasa replicas, relay across them", body)
    print(body)
    print(f"Report: {path}")
    return runs


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
