"""Labelling how customers felt: a trainer marks customer messages "dissatisfied" or "not dissatisfied"
(the review inbox offers the messages of conversations rated CSAT <= 2, and any other), and they
become the dissatisfaction detector's own training data, data/dissatisfaction.yml, which every
`rasa train` adds to the GoEmotions model (rasa_plugins/escalation.py: SentimentAnnotator).

As with intents (training/labels.py), a share of every batch, chosen by a hash of the text and never
by the trainer, goes to a held-out set instead (tests/dissatisfaction/heldout_reviewed.yml); the
release gate refuses a candidate whose detector is worse than the live one's on it.

The files are written whole (two lists, `dissatisfied:` and `not_dissatisfied:`, under a fixed
header), parsed again and restored if they do not hold what was written.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from escalation.detector import DISSATISFIED, NOT_DISSATISFIED, labelled_messages
from training.labels import LabelError, LabelResult, clean_message, heldout_share
from training.project import BotProject, normalize
from training.store import TEST, TRAIN, Review, ReviewStore

LABELS = (DISSATISFIED, NOT_DISSATISFIED)
TRAINING_HEADER = (
    "# Customer messages trainers marked in the review inbox: the dissatisfaction detector's own\n"
    "# training data, added to the GoEmotions model at every `rasa train` (training/dissatisfaction_labels.py).\n"
    "# Written whole by the trainers' page; edits by hand are kept, comments below this header are not.\n"
)
HELDOUT_HEADER = (
    "# Held-out dissatisfaction labels: a share of every batch trainers labelled, chosen by hash.\n"
    "# Never train or tune on them; the release gate checks every candidate's detector on them.\n"
)


def render(header: str, texts: List[str], labels: List[int]) -> str:
    """A labels file: the header, then both lists (JSON strings are valid YAML and need no escaping rules)."""
    lines = [header]
    for key, wanted in ((DISSATISFIED, 1), (NOT_DISSATISFIED, 0)):
        chosen = [t for t, label in zip(texts, labels) if label == wanted]
        lines.append(f"{key}:" + ("" if chosen else " []"))
        lines += [f"- {json.dumps(text, ensure_ascii=False)}" for text in chosen]
    return "\n".join(lines) + "\n"


def labelled(project: BotProject) -> Dict[str, Tuple[str, str]]:
    """normalized text -> (label, "training data" | "held-out set"), over both files."""
    known: Dict[str, Tuple[str, str]] = {}
    for path, where in (
        (project.dissatisfaction_heldout, "held-out set"),
        (project.dissatisfaction_labels, "training data"),
    ):
        texts, labels = read_labels(path)
        known.update({normalize(t): (LABELS[1 - label], where) for t, label in zip(texts, labels)})
    return known


def read_labels(path: Path) -> Tuple[List[str], List[int]]:
    try:
        return labelled_messages(path)
    except (ValueError, yaml.YAMLError) as error:
        raise LabelError(f"{path} cannot be read ({error}); fix it by hand or restore it from git.") from None


class DissatisfactionLabeller:
    def __init__(self, project: BotProject, store: ReviewStore, heldout_share_of_batch: float = 0.25) -> None:
        self.project = project
        self.store = store
        self.share = heldout_share_of_batch
        self._lock = threading.Lock()  # one batch at a time edits the files

    def label(self, texts: List[str], label: str, trainer: str = "trainer") -> LabelResult:
        if label not in LABELS:
            raise LabelError(f"label must be one of {list(LABELS)}.")
        if not isinstance(texts, list) or not texts:
            raise LabelError("Send at least one message to label.")
        cleaned = [clean_message(t) for t in texts]
        with self._lock:
            return self._label(cleaned, label, trainer)

    def _label(self, cleaned: List[str], label: str, trainer: str) -> LabelResult:
        result = LabelResult(label, str(uuid.uuid4()))
        known, seen, fresh = labelled(self.project), set(), []
        for text in cleaned:
            key = normalize(text)
            if key in seen:
                result.skipped.append({"text": text, "reason": "the same message twice in this batch"})
            elif key in known:
                result.skipped.append({"text": text, "reason": "already labelled %s (%s)" % known[key]})
            else:
                fresh.append((key, text))
            seen.add(key)
        if not fresh:
            return result
        held = set(heldout_share([key for key, _ in fresh], self.share))
        result.trained = [text for key, text in fresh if key not in held]
        result.held_out = [text for key, text in fresh if key in held]
        value = 1 if label == DISSATISFIED else 0
        self._write(
            {
                self.project.dissatisfaction_labels: (TRAINING_HEADER, result.trained),
                self.project.dissatisfaction_heldout: (HELDOUT_HEADER, result.held_out),
            },
            value,
        )
        now = datetime.now(timezone.utc)
        for text, split in [(t, TRAIN) for t in result.trained] + [(t, TEST) for t in result.held_out]:
            self.store.add(normalize(text), Review(text, label, split, result.batch, trainer, now))
        return result

    def _write(self, additions: Dict[Path, Tuple[str, List[str]]], value: int) -> None:
        originals = {path: (path.read_text() if path.exists() else None) for path in additions}
        try:
            for path, (header, new) in additions.items():
                if not new:
                    continue
                texts, labels = read_labels(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(render(header, texts + new, labels + [value] * len(new)))
                try:
                    written = dict(zip(*labelled_messages(path)))
                except (ValueError, yaml.YAMLError):
                    written = {}
                if any(written.get(text) != value for text in new):
                    raise LabelError(f"Could not write {new!r} to {path.name}; nothing was changed.")
        except Exception:
            for path, text in originals.items():
                if text is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(text)
            raise
