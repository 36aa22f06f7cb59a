"""Turn latency and throughput over the REST channel: the full bot vs a bare `rasa init` baseline.

Both run on this machine in the same run. The full bot is what `make demo` starts: the project's
model, the action server (identity at session start), the SQL tracker store on SQLite, input
screening. The baseline is `rasa init` (Rasa's default configuration: DIET, TED, ...; in-memory
tracker store). Each conversation sends 8 messages one after another; C conversations run at once.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import aiohttp

from bench.common import REPORTS_DIR, write_report
from common import conversation_ids
from common.crm import CustomerRepository
from common.database import migrate
from common.rasa_commands import RASA, process_env, train
from common.settings import free_port, throwaway_settings
from common.tokens import mint
from tools import launcher
from tools.seed import seed_customers

CONCURRENCY = (1, 10, 50)
CONVERSATIONS = {1: 12, 10: 40, 50: 100}
TURNS = 8
WARMUP_CONVERSATIONS = 3

BOT_SCRIPT = [
    "hi",
    "where is my order",
    "how much is shipping",
    "can I return a lamp I bought",
    "my payment was declined",
    "how do I reset my password",
    "thanks",
    "bye",
]
BASELINE_SCRIPT = ["hi", "I am sad", "yes", "hello", "I am great", "are you a bot?", "no", "bye"]


@dataclass
class Result:
    system: str
    concurrency: int
    latencies_ms: List[float]
    seconds: float
    errors: int  # HTTP errors, time-outs, malformed answers
    silent: int  # valid answers with no bot message (the baseline's rules leave some turns unanswered)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def conversation(
    session: aiohttp.ClientSession,
    url: str,
    script: List[str],
    identity: Tuple[str, Optional[dict]],
    latencies: List[float],
    errors: List[int],
    silent: List[int],
) -> None:
    sender, metadata = identity  # a signed-in customer sends their token with every message
    for text in script:
        body = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        started = time.perf_counter()
        try:
            async with session.post(url, json=body) as response:
                replies = await response.json()
                ok = response.status == 200 and isinstance(replies, list)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            ok, replies = False, None
        latencies.append((time.perf_counter() - started) * 1000)
        if not ok:
            errors.append(1)
        elif not replies:
            silent.append(1)


async def load(url: str, script: List[str], concurrency: int, conversations: int, metadata_for: callable) -> Result:
    latencies: List[float] = []
    errors: List[int] = []
    silent: List[int] = []
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for i in range(WARMUP_CONVERSATIONS):
            await conversation(session, url, script, metadata_for(i), [], [], [])
        queue = list(range(conversations))
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                index = queue.pop()
                await conversation(session, url, script, metadata_for(index), latencies, errors, silent)

        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - started
    return Result("", concurrency, latencies, seconds, len(errors), len(silent))


def measure(system: str, url: str, script: List[str], metadata_for: callable) -> List[Result]:
    results = []
    for c in CONCURRENCY:
        print(f"   {system}: {c} concurrent conversations x {TURNS} turns ...", flush=True)
        result = asyncio.run(load(url, script, c, CONVERSATIONS[c], metadata_for))
        result.system = system
        print(
            f"      p50 {result.percentile(0.5):.1f} ms, p95 {result.percentile(0.95):.1f} ms, "
            f"{result.throughput:.1f} msg/s, errors {result.errors}, unanswered {result.silent}",
            flush=True,
        )
        results.append(result)
    return results


def start_baseline(work: Path, port: int) -> launcher.Service:
    project = work / "baseline"
    print("==> Creating and training the `rasa init` baseline (default configuration; a few minutes)", flush=True)
    project.mkdir()
    env = dict(process_env(throwaway_settings(work)), PYTHONPATH="")
    subprocess.run(
        [RASA, "init", "--no-prompt", "--init-dir", str(project)],
        cwd=work,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    process = subprocess.Popen(
        [RASA, "run", "--port", str(port), "--interface", "127.0.0.1"],
        cwd=project,
        env=env,
        stdout=open(work / "baseline.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return launcher.Service("baseline Rasa server", process, f"http://127.0.0.1:{port}/", work / "baseline.log")


def wait_for_replies(url: str, timeout: float = 180) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launcher.answers(
            lambda: bool(requests.post(url, json={"sender": "warmup", "message": "hi"}, timeout=10).json())
        ):
            return
        time.sleep(1)
    raise TimeoutError(f"{url} gave no replies")


def chart(results: List[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for system in sorted({r.system for r in results}):
        rows = [r for r in results if r.system == system]
        left.plot([r.concurrency for r in rows], [r.throughput for r in rows], marker="o", label=system)
        right.plot([r.concurrency for r in rows], [r.percentile(0.5) for r in rows], marker="o", label=f"{system} p50")
        right.plot(
            [r.concurrency for r in rows],
            [r.percentile(0.95) for r in rows],
            marker="x",
            linestyle="--",
            label=f"{system} p95",
        )
    left.set(title="Throughput", xlabel="concurrent conversations", ylabel="messages / s", xscale="log")
    right.set(title="Turn latency", xlabel="concurrent conversations", ylabel="ms", xscale="log", yscale="log")
    left.legend()
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> List[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = train()
        settings = throwaway_settings(work)
        migrate(settings.customer_db_url)
        seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
        baseline_port = free_port()
        baseline = start_baseline(work, baseline_port)
        services = [baseline]
        try:
            services.append(launcher.start_action_server(settings, log_dir=work / "logs"))
            services.append(launcher.start_rasa(settings, model, log_dir=work / "logs"))
            for service in services:
                launcher.wait_until_up(service, timeout=300)
            launcher.wait_for_model(settings)
            bot_url = f"{settings.rasa_url}/webhooks/rest/webhook"
            baseline_url = f"http://127.0.0.1:{baseline_port}/webhooks/rest/webhook"
            wait_for_replies(baseline_url)
            wait_for_replies(bot_url)
            personas = ["demo-vip", "demo-standard", "demo-free", None]

            def bot_metadata(i: int) -> Tuple[str, Optional[Dict]]:
                persona = personas[i % len(personas)]
                sender = conversation_ids.issue(persona, settings.customer_token_secret)
                if persona is None:
                    return sender, None
                return sender, {
                    "customer_token": mint(
                        persona, settings.customer_token_secret, settings.customer_token_issuer, 3600
                    )
                }

            print("==> Measuring", flush=True)
            results = measure(
                "baseline (rasa init)",
                baseline_url,
                BASELINE_SCRIPT,
                lambda i: (f"bench-{uuid.uuid4().hex[:12]}", None),
            )
            results += measure("support bot", bot_url, BOT_SCRIPT, bot_metadata)
        finally:
            for service in reversed(services):
                service.stop()
    REPORTS_DIR.mkdir(exist_ok=True)
    chart(results, REPORTS_DIR / "latency.png")
    by = {(r.system, r.concurrency): r for r in results}
    base, bot = "baseline (rasa init)", "support bot"
    throughput_ratio = by[(bot, 50)].throughput / by[(base, 50)].throughput
    latency_ratio = by[(bot, 1)].percentile(0.5) / by[(base, 1)].percentile(0.5)

    def verdict(ok):
        return "met" if ok else "MISSED"

    lines = [
        f"Each conversation: {TURNS} messages in sequence over POST /webhooks/rest/webhook; conversations per "
        f"level: {CONVERSATIONS}; {WARMUP_CONVERSATIONS} warm-up conversations first. The load generator runs "
        "on the same 2 cores as the servers (same for both systems).",
        "",
        "| system | concurrent conversations | messages | p50 ms | p95 ms | messages/s | errors | unanswered |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {r.system} | {r.concurrency} | {len(r.latencies_ms)} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.95):.1f} | {r.throughput:.1f} | {r.errors} | {r.silent} |"
            for r in results
        ],
        "",
        "Errors are HTTP errors, time-outs or malformed answers; unanswered turns got a valid empty answer "
        "(the `rasa init` bot has no rule for some turns of its script).",
        "",
        f"- Throughput at 50 concurrent conversations: {throughput_ratio:.2f}x the baseline "
        f"(target >= 3x: {verdict(throughput_ratio >= 3)}).",
        f"- Single-conversation p50 latency: {latency_ratio:.2f} of the baseline's "
        f"(target <= 0.5: {verdict(latency_ratio <= 0.5)}).",
        "",
        "![latency](latency.png)",
    ]
    body = "\n".join(lines)
    path = write_report("latency", "Turn latency and throughput: support bot vs rasa init baseline", body)
    print(body)
    print(f"Report: {path}")
    return results


if __name__ == "__main__":
    main()
