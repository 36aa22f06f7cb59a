"""The safe release of a new model: train a candidate, put it through the gate, load it live if it passes.

The gate, in order (the first failure stops it, saying why):
1. `rasa data validate` on the project: no errors and no warnings but the one Rasa always prints for
   retrieval intents.
2. Train the candidate (`rasa train` into models/candidates/).
3. Held-out NLU test: the candidate and the live model on every held-out set (tests/nlu/*.yml,
   including the share of reviewed traffic): the candidate may be less accurate than the live model
   by at most RELEASE_TOLERANCE_OVERALL overall, and may lose at most RELEASE_TOLERANCE_PER_LABEL of
   the held-out messages of any label with at least RELEASE_MIN_LABEL_EXAMPLES of them (none by
   default: training is deterministic, so the same data gives the same answers).
4. The dissatisfaction detector the candidate carries (its SentimentAnnotator, trained with the
   trainers' labels of data/dissatisfaction.yml) and the live model's, on the held-out labels
   (tests/dissatisfaction/heldout_reviewed.yml): the same comparison and tolerances, per label
   (dissatisfied, not_dissatisfied), on whether each message is called dissatisfied.
5. The conversation tests (tests/stories) with the candidate: every story must pass.
A candidate that passes is loaded into every running Rasa server (RASA_REPLICA_URLS; one when empty) with
its `PUT /model` (no restart; requests wait while the new model loads); a server that restarts later
starts with it (tools/launcher.py reads the release state). The model it replaces is kept for a one-step rollback.
Each run writes report.json, report.md and confusion.png into its own folder.

Run by the escalation service in a separate process (it loads Rasa and TensorFlow) and by
`make release`; `python -m training.release --help` shows the options.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from common.rasa_api import RasaClient, RasaUnavailable
from common.rasa_commands import RASA, cli_env
from common.settings import VAR_DIR, Settings, load_settings
from escalation.detector import labelled_messages
from training.project import BotProject

# Rasa 3.6 warns about the retrieval intent `faq` being in the domain *and* derived from
# data/faq_answers.yml, whichever way a project declares it: it is listed in the domain because the
# rules use it. That one warning is expected; any other warning fails validation.
KNOWN_RASA_WARNING = "The following duplicated intents have been found across multiple domain files: faq"
STATE_FILE = "releases.json"
# Training is deterministic (the linear classifier picks the FAQ answer; Rasa's ResponseSelector, which
# flipped a message or two per label on every retraining, is gone), so no label needs slack for noise.
NOISE_MESSAGES = 0


@dataclass(frozen=True)
class Tolerance:
    overall: float
    per_label: float
    min_label_examples: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Tolerance":
        return cls(
            settings.release_tolerance_overall,
            settings.release_tolerance_per_label,
            settings.release_min_label_examples,
        )


@dataclass
class Comparison:
    """Held-out accuracy of the candidate against the live model, and whether it is within tolerance."""

    overall: Tuple[float, Optional[float]]  # candidate, live
    per_label: Dict[str, Tuple[float, Optional[float], int]]  # label -> candidate, live, examples
    refusals: List[str] = field(default_factory=list)

    def as_json(self, messages: int) -> dict:
        """For the release report: both models overall and per label, rounded."""
        candidate, live = self.overall
        return {
            "messages": messages,
            "candidate": round(candidate, 4),
            "live": round(live, 4) if live is not None else None,
            "per_label": {
                label: {"candidate": round(cand, 3), "live": None if was is None else round(was, 3), "messages": n}
                for label, (cand, was, n) in self.per_label.items()
            },
        }


def compare(
    candidate: Dict[str, Tuple[int, int]], live: Optional[Dict[str, Tuple[int, int]]], tolerance: Tolerance
) -> Comparison:
    """Pure: per-label (right, total) counts of both models -> the comparison with reasons to refuse."""

    def overall(counts):
        total = sum(t for _, t in counts.values())
        return sum(r for r, _ in counts.values()) / total if total else 0.0

    result = Comparison((overall(candidate), overall(live) if live is not None else None), {})
    for label, (right, total) in sorted(candidate.items()):
        live_acc = None
        if live is not None and label in live and live[label][1]:
            live_acc = live[label][0] / live[label][1]
        result.per_label[label] = (right / total if total else 0.0, live_acc, total)
    if live is None:
        return result
    cand_all, live_all = result.overall
    if cand_all < live_all - tolerance.overall - 1e-9:
        result.refusals.append(
            f"overall held-out accuracy {cand_all:.3f} is below the live model's {live_all:.3f} "
            f"by more than the tolerance {tolerance.overall:.2f}"
        )
    for label, (cand_acc, live_acc, total) in result.per_label.items():
        if live_acc is None or total < tolerance.min_label_examples:
            continue
        # In messages: a label may lose its share of the tolerance (none by default).
        allowed = max(NOISE_MESSAGES, int(tolerance.per_label * total + 1e-9))
        lost = round((live_acc - cand_acc) * total)
        if lost > allowed:
            result.refusals.append(
                f"{label}: {round(cand_acc * total)} of {total} held-out messages right vs "
                f"{round(live_acc * total)} live (lost {lost}; at most {allowed} may be lost: "
                f"tolerance {tolerance.per_label:.2f} of the label's messages, at least {NOISE_MESSAGES})"
            )
    return result


def _stage(report: dict, name: str, message: str) -> None:
    report["stage"] = name
    report["log"].append(f"{datetime.now(timezone.utc):%H:%M:%S} {message}")
    print(f"==> {message}", flush=True)


def validate(project: BotProject) -> Tuple[bool, str]:
    result = subprocess.run(
        [
            RASA,
            "data",
            "validate",
            "--domain",
            str(project.domain),
            "--data",
            str(project.data_dir),
            "--config",
            str(project.config),
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    output = result.stdout + result.stderr
    warnings = [
        line.split("UserWarning:", 1)[1].strip()
        for line in output.splitlines()
        if "UserWarning" in line and KNOWN_RASA_WARNING not in line
    ]
    if result.returncode != 0:
        errors = [line for line in output.splitlines() if "error" in line.lower()][-5:]
        return False, "rasa data validate failed: " + " | ".join(errors or output.splitlines()[-5:])
    if warnings:
        return False, "rasa data validate warned: " + " | ".join(warnings)
    return True, "rasa data validate: clean"


def train_candidate(project: BotProject, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            RASA,
            "train",
            "--domain",
            str(project.domain),
            "--config",
            str(project.config),
            "--data",
            str(project.data_dir),
            "--out",
            str(out_dir),
            "--fixed-model-name",
            name,
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    model = out_dir / f"{name}.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise RuntimeError("training failed: " + (result.stdout + result.stderr)[-1500:])
    return model


def heldout_pairs(project: BotProject) -> List[Tuple[str, str]]:
    return [(text, label) for label, texts in project.heldout_examples().items() for text in texts]


def run_stories(project: BotProject, model: Path, out_dir: Path) -> Tuple[bool, str]:
    result = subprocess.run(
        [
            RASA,
            "test",
            "core",
            "--model",
            str(model),
            "--stories",
            str(project.stories_dir),
            "--out",
            str(out_dir),
            "--fail-on-prediction-errors",
            "--endpoints",
            str(out_dir / "no-endpoints.yml"),
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    failed = out_dir / "failed_test_stories.yml"
    if result.returncode != 0 or (failed.exists() and "None of the test stories failed" not in failed.read_text()):
        detail = failed.read_text()[:1500] if failed.exists() else (result.stdout + result.stderr)[-1500:]
        return False, "conversation tests failed: " + detail
    return True, "conversation tests: all passed"


# --- live models -----------------------------------------------------------------------------------


def models_dir(project: BotProject) -> Path:
    return project.root / "models"


def read_state(project: BotProject) -> dict:
    path = models_dir(project) / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {"live": None, "previous": None, "history": []}


def write_state(project: BotProject, state: dict) -> None:
    path = models_dir(project) / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def released_model(project_root: Path, since: float = 0) -> Optional[Path]:
    """The live model of the last release or rollback made at `since` (time.time()) or later, if its
    file is still there: what a Rasa server that (re)starts must serve."""
    path = project_root / "models" / STATE_FILE
    if not path.exists() or path.stat().st_mtime < since:
        return None
    live = json.loads(path.read_text()).get("live")
    return Path(live) if live and Path(live).exists() else None


def _rasa_client(settings: Settings, base_url: Optional[str] = None) -> RasaClient:
    return RasaClient(base_url or settings.rasa_url, settings.rasa_token, timeout=10)


def live_model(project: BotProject, settings: Settings) -> Optional[Path]:
    """The model the running Rasa server has loaded (its file, found among the project's models)."""
    name = _rasa_client(settings).loaded_model()
    state = read_state(project)
    if state.get("live") and Path(state["live"]).name == name and Path(state["live"]).exists():
        return Path(state["live"])
    found = [p for p in models_dir(project).rglob(name)] if name else []
    return found[0] if found else None


def _load_into(settings: Settings, replica: str, model: Path, timeout: float) -> None:
    rasa = _rasa_client(settings, replica)
    try:
        rasa.load_model(str(model), timeout)
        serving = rasa.loaded_model()
    except RasaUnavailable as error:
        raise RuntimeError(f"{replica}: {error}") from None
    if serving != model.name:
        raise RuntimeError(f"{replica} reports {serving} after loading {model.name}")


def load_live(settings: Settings, model: Path, timeout: float = 300, previous: Optional[Path] = None) -> float:
    """Loads `model` into every Rasa server (settings.rasa_replica_urls, one `PUT /model` each, one after
    the other so that the others keep answering); returns how long it took. When one refuses or cannot
    be reached, the servers that already took the new model get `previous` back (all serve one model)
    and the error says which server failed."""
    started, loaded = time.monotonic(), []
    for replica in settings.rasa_replica_urls:
        try:
            _load_into(settings, replica, model, timeout)
        except RuntimeError as error:
            restored = [r for r in loaded if previous is not None and _restored(settings, r, previous, timeout)]
            raise RuntimeError(
                f"Loading {model.name} failed on {error}; "
                + (
                    f"{len(restored)} of {len(loaded)} server(s) that had taken it serve {previous.name} again"
                    if previous is not None
                    else "no previous model to restore"
                )
            ) from None
        loaded.append(replica)
    return time.monotonic() - started


def _restored(settings: Settings, replica: str, previous: Path, timeout: float) -> bool:
    try:
        _load_into(settings, replica, previous, timeout)
        return True
    except RuntimeError:
        return False


def rollback(project: BotProject, settings: Settings) -> dict:
    """Loads the model that was live before the last release; one step back only."""
    state = read_state(project)
    previous = state.get("previous")
    if not previous or not Path(previous).exists():
        raise RuntimeError("There is no previous model to roll back to.")
    current = Path(state["live"]) if state.get("live") and Path(state["live"]).exists() else None
    seconds = load_live(settings, Path(previous), previous=current)
    state["history"].append(
        {"event": "rollback", "from": state.get("live"), "to": previous, "at": datetime.now(timezone.utc).isoformat()}
    )
    state["live"], state["previous"] = previous, None
    write_state(project, state)
    return {"live": previous, "seconds": round(seconds, 1)}


# --- the whole run ----------------------------------------------------------------------------------


def release(project: BotProject, settings: Settings, out_dir: Path, load: bool = True) -> dict:
    """Trains and gates a candidate; loads it live when it passes and `load`. Writes the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tolerance = Tolerance.from_settings(settings)
    report: dict = {
        "started_at": datetime.now(timezone.utc).isoformat(),
        "stage": "starting",
        "log": [],
        "passed": None,
        "refusals": [],
        "loaded": False,
        "candidate": None,
        "live": None,
        "tolerance": vars(tolerance),
    }

    def finish(passed: bool, reasons: List[str]) -> dict:
        report.update(passed=passed, refusals=reasons, stage="done", finished_at=datetime.now(timezone.utc).isoformat())
        (out_dir / "report.json").write_text(json.dumps(report, indent=2))
        (out_dir / "report.md").write_text(markdown(report))
        return report

    _stage(report, "validate", "Validating the training data (rasa data validate)")
    ok, message = validate(project)
    report["validate"] = message
    if not ok:
        return finish(False, [message])

    name = f"candidate-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    _stage(report, "train", f"Training the candidate {name} (about a minute)")
    try:
        candidate = train_candidate(project, models_dir(project) / "candidates", name)
    except RuntimeError as error:
        return finish(False, [str(error)])
    report["candidate"] = str(candidate)

    from training.evaluation import ModelParser, confusion_chart, detector_counts, evaluate

    live = live_model(project, settings) if load else None
    report["live"] = str(live) if live else None
    pairs = heldout_pairs(project)
    _stage(
        report,
        "heldout",
        f"Held-out NLU test: {len(pairs)} messages, candidate"
        + (f" and live model {live.name}" if live else " (no live model to compare with)"),
    )
    candidate_parser = ModelParser(candidate)
    live_parser = ModelParser(live) if live else None
    cand_eval = evaluate(candidate_parser, pairs)
    live_eval = evaluate(live_parser, pairs) if live_parser else None
    comparison = compare(cand_eval.per_label, live_eval.per_label if live_eval else None, tolerance)
    report["heldout"] = {
        **comparison.as_json(len(pairs)),
        "confusions": [
            {"expected": g, "predicted": p, "count": n} for (g, p), n in cand_eval.confusions().most_common(15)
        ],
    }
    confusion_chart(cand_eval, f"Candidate on the held-out sets ({len(pairs)} messages)", out_dir / "confusion.png")
    report["confusion_chart"] = str(out_dir / "confusion.png")
    if comparison.refusals:  # the first failure stops the gate (no conversation tests for a refused model)
        return finish(False, comparison.refusals)

    labelled = list(zip(*labelled_messages(project.dissatisfaction_heldout)))
    _stage(report, "dissatisfaction", f"Dissatisfaction detector on {len(labelled)} held-out labels")
    detector = compare(
        detector_counts(candidate_parser, labelled),
        detector_counts(live_parser, labelled) if live_parser else None,
        tolerance,
    )
    report["dissatisfaction"] = detector.as_json(len(labelled))
    if detector.refusals:
        return finish(False, [f"dissatisfaction detector: {reason}" for reason in detector.refusals])

    _stage(report, "stories", "Conversation tests (tests/stories) with the candidate")
    ok, message = run_stories(project, candidate, out_dir / "stories")
    report["stories"] = message
    if not ok:
        return finish(False, [message])

    if load:
        _stage(report, "load", f"Loading {candidate.name} into the running Rasa server(s) (PUT /model)")
        seconds = load_live(settings, candidate, previous=live)
        state = read_state(project)
        state["history"].append(
            {
                "event": "release",
                "from": state.get("live") or report["live"],
                "to": str(candidate),
                "at": datetime.now(timezone.utc).isoformat(),
            }
        )
        state["previous"], state["live"] = state.get("live") or report["live"], str(candidate)
        write_state(project, state)
        report.update(loaded=True, load_seconds=round(seconds, 1))
        keep = {state["live"], state["previous"]}
        for old in (models_dir(project) / "candidates").glob("*.tar.gz"):
            if str(old) not in keep and old != candidate and old.stat().st_mtime < time.time() - 3600:
                old.unlink()  # refused or superseded candidates older than an hour
    return finish(True, [])


def per_label_table(per_label: dict) -> List[str]:
    """A report's table of per-label accuracy, candidate next to the live model."""
    rows = ["| label | messages | candidate | live |", "|---|---|---|---|"]
    for label, row in per_label.items():
        live = "–" if row["live"] is None else f"{row['live']:.2f}"
        rows.append(f"| {label} | {row['messages']} | {row['candidate']:.2f} | {live} |")
    return rows


def markdown(report: dict) -> str:
    verdict = "passed" if report.get("passed") else "refused"
    lines = [
        f"# Release of {Path(report.get('candidate') or 'no candidate').name}: {verdict}",
        "",
        f"Started {report['started_at']}; live model before: {report.get('live') or 'none'}.",
        "",
    ]
    if report.get("refusals"):
        lines += ["## Why it was refused", ""] + [f"- {reason}" for reason in report["refusals"]] + [""]
    tolerance = report["tolerance"]
    held = report.get("heldout")
    if held:
        lines += [
            "## Held-out NLU test",
            "",
            f"{held['messages']} messages. Tolerance: overall {tolerance['overall']:.2f}, per label "
            f"{tolerance['per_label']:.2f} (labels with at least {tolerance['min_label_examples']} messages).",
            "",
            "| | candidate | live |",
            "|---|---|---|",
            f"| overall accuracy | {held['candidate']:.3f} | "
            f"{'–' if held['live'] is None else format(held['live'], '.3f')} |",
            "",
            *per_label_table(held["per_label"]),
        ]
        lines += ["", "![confusion](confusion.png)", ""]
    detector = report.get("dissatisfaction")
    if detector and detector["messages"]:
        lines += [
            "## Dissatisfaction detector on the held-out labels",
            "",
            f"{detector['messages']} messages trainers labelled (share right: whether each is called dissatisfied).",
            "",
            *per_label_table(detector["per_label"]),
            "",
        ]
    for key in ("validate", "stories"):
        if report.get(key):
            lines.append(f"- {report[key]}")
    if report.get("loaded"):
        lines.append(f"- Loaded into the running Rasa server in {report['load_seconds']} s.")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Train a candidate model, gate it, and load it live if it passes.")
    parser.add_argument("--out", type=Path, help="folder for the report (default: var/releases/<time>)")
    parser.add_argument("--no-load", action="store_true", help="gate only; do not load the candidate")
    parser.add_argument("--rollback", action="store_true", help="load the previous live model instead")
    args = parser.parse_args(argv)
    settings = load_settings()
    project = BotProject(Path(settings.bot_project_dir))
    if args.rollback:
        print(json.dumps(rollback(project, settings)))
        return 0
    out = args.out or VAR_DIR / "releases" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    report = release(project, settings, out, load=not args.no_load)
    print(f"==> {'PASSED' if report['passed'] else 'REFUSED'}; report: {out / 'report.md'}")
    for reason in report["refusals"]:
        print(f"    - {reason}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
