"""Helpers the benchmarks share: machine description, report writing, loading a model to parse."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from common.settings import setting
from training.evaluation import ModelParser, retrieval_key  # noqa: F401 (shared with the release gate)

REPORTS_DIR = Path(__file__).resolve().parent / "reports"


class MissingBenchData(RuntimeError):
    """A public data set a benchmark needs is not where BENCH_DATA_DIR says."""


def public_data(relative: str) -> Path:
    """A file or folder of the public data sets under BENCH_DATA_DIR (layout: bench/data/README.md).
    Nothing is downloaded: without the data, the benchmark is skipped with this message."""
    root = setting("BENCH_DATA_DIR")
    path = Path(root) / relative if root else None
    if path is None or not path.exists():
        raise MissingBenchData(
            f"Skipped: {relative} not found ({'BENCH_DATA_DIR is not set' if not root else f'looked in {root}'}). "
            "Put the public data sets in a folder laid out as bench/data/README.md says and set BENCH_DATA_DIR "
            "to it (in .env or the environment)."
        )
    return path


def _read(path: str) -> str:
    """A /proc file's text, or "" where there is none (not Linux): the report then says less."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_description() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    meminfo = _read("/proc/meminfo").split()
    memory = f", {int(meminfo[1]) / 1024 / 1024:.0f} GiB RAM" if len(meminfo) > 1 and meminfo[1].isdigit() else ""
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def run_stamp() -> str:
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip()
        or "uncommitted"
    )
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}"


def write_report(name: str, title: str, body: str) -> Path:
    REPORTS_DIR.mkdir(exist_ok=True)
    path = REPORTS_DIR / f"{name}.md"
    load = os.getloadavg()[0]
    path.write_text(
        f"# {title}\n\nMeasured {run_stamp()} on {machine_description()}; 1-minute load average when the report "
        f"was written: {load:.1f} (the benchmark's own processes count in it; more than "
        f"{os.cpu_count() or 1} means something else ran too and timings are inflated).\n\n{body}\n"
    )
    return path


def training_label(message) -> str:
    """`faq/<topic>` for retrieval intents, otherwise the intent name."""
    return message.get("intent_response_key") or message.get("intent")


def stratified_folds(messages: List, k: int, seed: int) -> List[List]:
    """k folds with each label's examples spread evenly; the same seed gives the same folds."""
    rng = random.Random(seed)
    by_label: Dict[str, List] = {}
    for message in messages:
        by_label.setdefault(training_label(message), []).append(message)
    folds: List[List] = [[] for _ in range(k)]
    for name in sorted(by_label):
        items = by_label[name][:]
        rng.shuffle(items)
        for index, message in enumerate(items):
            folds[index % k].append(message)
    return folds


def grouped_bar_chart(
    groups: Sequence[str], series: Sequence[Tuple[str, Sequence[float]]], title: str, y_max: float, path: Path
) -> None:
    """One group of bars per name in `groups`, one bar per (label, values) series; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9, 4))
    for index, (label, values) in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        ax.bar([i + offset for i in range(len(groups))], values, width=width, label=label)
    ax.set_xticks(list(range(len(groups))))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylim(0, y_max)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
