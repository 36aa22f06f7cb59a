"""Labelling: a trainer puts reviewed messages under an intent, an FAQ topic (existing or new, with
its answer) or out of scope, and the messages are written into the project's YAML files.

The files are edited as text, not re-serialised, so their formatting and comments stay as they are:
examples are appended at the end of their intent's block (a new block at the end of the file when
the intent has none yet). Each written file is parsed again and must contain the new examples, or it
is restored. A message already in the training data or in a held-out set is skipped, saying where.

An honest measure: of every labelled batch, a share (HELDOUT_SHARE, at least one message of a batch
of two or more) goes to the held-out set tests/nlu/heldout_reviewed.yml instead of the training data,
chosen by a hash of the text (not by the trainer), so the test set grows with real traffic and is
never trained on.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from training.project import OUT_OF_SCOPE, BotProject, normalize
from training.store import TEST, TRAIN, Review, ReviewStore

INTENT, FAQ, NEW_FAQ = "intent", "faq", "new_faq"
KINDS = (INTENT, FAQ, NEW_FAQ, OUT_OF_SCOPE)
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# Rasa reads "[text](entity)" and "[text]{...}" in examples as entity annotations.
ENTITY_MARKUP = re.compile(r"\]\s*[({]")
MAX_EXAMPLE_CHARS = 300
HELDOUT_HEADER = (
    'version: "3.1"\n# Held-out messages from real traffic: a share of every batch trainers labelled '
    "(training/labels.py).\n# Never train or tune on them; the release gate evaluates every "
    "candidate on them.\nnlu:\n"
)


class LabelError(ValueError):
    """The label or the messages cannot be used; the message says why and what to do."""


@dataclass
class LabelResult:
    label: str
    batch: str
    trained: List[str] = field(default_factory=list)  # added to the training data
    held_out: List[str] = field(default_factory=list)  # added to the held-out set instead
    skipped: List[Dict[str, str]] = field(default_factory=list)  # {"text", "reason"}

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "batch": self.batch,
            "trained": self.trained,
            "held_out": self.held_out,
            "skipped": self.skipped,
        }


def _block_start(lines: List[str], label: str) -> Optional[int]:
    pattern = re.compile(rf"^- intent:\s*{re.escape(label)}\s*$")
    return next((i for i, line in enumerate(lines) if pattern.match(line.rstrip("\n"))), None)


def insert_examples(text: str, label: str, examples: List[str]) -> str:
    """The NLU YAML `text` with `examples` appended to `label`'s block; everything else unchanged."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new = [f"    - {example}\n" for example in examples]
    start = _block_start(lines, label)
    if start is None:
        return "".join(lines + [f"- intent: {label}\n", "  examples: |\n", *new])
    end = start + 1
    while end < len(lines) and lines[end].startswith("  ") and not lines[end].startswith("- "):
        end += 1  # the block's lines: "  examples: |" and the indented examples
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1  # keep a blank line that separates blocks after the new examples
    return "".join(lines[:end] + new + lines[end:])


def add_answer(text: str, topic: str, answer: str) -> str:
    """data/faq_answers.yml with an answer for the new topic appended (JSON strings are valid YAML)."""
    if not text.endswith("\n"):
        text += "\n"
    return text + f"  utter_faq/{topic}:\n  - text: {json.dumps(answer, ensure_ascii=False)}\n"


def heldout_share(normalized: List[str], share: float) -> List[str]:
    """Which of a batch's messages go to the held-out set: the first by hash, never the trainer's choice."""
    if not normalized:
        return []
    count = math.floor(len(normalized) * share + 0.5)
    if len(normalized) >= 2:
        count = max(1, count)
    elif count == 0:  # a batch of one: held out with probability `share`, by its hash
        digest = int(hashlib.sha256(normalized[0].encode()).hexdigest(), 16)
        count = 1 if (digest % 1000) < share * 1000 else 0
    ranked = sorted(normalized, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    return ranked[:count]


def clean_message(text: object) -> str:
    if not isinstance(text, str):
        raise LabelError("Each message must be a string.")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise LabelError("A message is empty.")
    if len(cleaned) > MAX_EXAMPLE_CHARS:
        raise LabelError(
            f"A message is longer than {MAX_EXAMPLE_CHARS} characters; shorten it to the part that "
            "says what the customer wants."
        )
    return cleaned


class Labeller:
    def __init__(self, project: BotProject, store: ReviewStore, heldout_share_of_batch: float = 0.25) -> None:
        self.project = project
        self.store = store
        self.share = heldout_share_of_batch
        # Labelling reads, edits and writes the project's files: two batches at once would overwrite
        # each other's examples (the web app runs requests in a thread pool).
        self._lock = threading.Lock()

    def _target(self, kind: str, name: Optional[str], answer: Optional[str]) -> str:
        if kind == OUT_OF_SCOPE:
            return OUT_OF_SCOPE
        if kind == INTENT:
            if name not in self.project.intents():
                raise LabelError(f"Unknown intent {name!r}; choose one of {self.project.intents()}.")
            return name
        if kind == FAQ:
            if name not in self.project.faq_topics():
                raise LabelError(f"Unknown FAQ topic {name!r}; choose an existing topic or create a new one.")
            return f"faq/{name}"
        if kind == NEW_FAQ:
            if not isinstance(name, str) or not TOPIC_NAME.match(name):
                raise LabelError(
                    "A new topic's name is 2 to 41 lower-case letters, digits or _, starting with a "
                    "letter (e.g. gift_wrapping)."
                )
            if name in self.project.faq_topics():
                raise LabelError(f"The FAQ topic {name!r} exists already; label the messages with it instead.")
            if not isinstance(answer, str) or len(answer.strip()) < 10:
                raise LabelError("A new FAQ topic needs its answer (at least 10 characters): what the bot will say.")
            return f"faq/{name}"
        raise LabelError(f"kind must be one of {list(KINDS)}.")

    def label(
        self,
        texts: List[str],
        kind: str,
        name: Optional[str] = None,
        answer: Optional[str] = None,
        trainer: str = "trainer",
    ) -> LabelResult:
        """Writes the messages under the label (a share to the held-out set) and records the reviews."""
        with self._lock:
            return self._label(texts, kind, name, answer, trainer)

    def _label(
        self, texts: List[str], kind: str, name: Optional[str], answer: Optional[str], trainer: str
    ) -> LabelResult:
        label = self._target(kind, name, answer)
        if not texts:
            raise LabelError("Send at least one message to label.")
        cleaned = [clean_message(t) for t in texts]
        for text in cleaned:
            if ENTITY_MARKUP.search(text):
                raise LabelError(f"{text!r} contains ']( ' or ']{{', which Rasa reads as entity markup; edit it out.")
        result = LabelResult(label, str(uuid.uuid4()))
        known, seen, fresh = self.project.known_texts(), set(), []
        for text in cleaned:
            key = normalize(text)
            if key in seen:
                result.skipped.append({"text": text, "reason": "the same message twice in this batch"})
            elif key in known:
                result.skipped.append({"text": text, "reason": f"already in the data: {known[key]}"})
            else:
                fresh.append((key, text))
            seen.add(key)
        held = set(heldout_share([key for key, _ in fresh], self.share))
        train = [text for key, text in fresh if key not in held]
        test = [text for key, text in fresh if key in held]
        if not fresh:
            return result
        if kind == NEW_FAQ and not train:  # a topic needs at least one training example to exist
            train, test = test[:1], test[1:]
        self._write(label, train, test, answer if kind == NEW_FAQ else None)
        now = datetime.now(timezone.utc)
        for text, split in [(t, TRAIN) for t in train] + [(t, TEST) for t in test]:
            self.store.add(normalize(text), Review(text, label, split, result.batch, trainer, now))
        result.trained, result.held_out = train, test
        return result

    def _nlu_file_for(self, label: str) -> Path:
        if label.startswith("faq/"):
            return self.project.faq_nlu
        for path in self.project.nlu_files():
            if _block_start(path.read_text().splitlines(), label) is not None:
                return path
        return self.project.conversation_nlu

    def _write(self, label: str, train: List[str], test: List[str], answer: Optional[str]) -> None:
        changes: Dict[Path, str] = {}
        if train:
            path = self._nlu_file_for(label)
            changes[path] = insert_examples(path.read_text(), label, train)
        if test:
            path = self.project.reviewed_heldout
            current = path.read_text() if path.exists() else HELDOUT_HEADER
            changes[path] = insert_examples(current, label, test)
        if answer is not None:
            path = self.project.faq_answers
            changes[path] = add_answer(path.read_text(), label.split("/", 1)[1], answer.strip())
        originals = {path: (path.read_text() if path.exists() else None) for path in changes}
        try:
            for path, text in changes.items():
                path.write_text(text)
            self._check(label, train, test, answer)
        except Exception:
            for path, text in originals.items():  # leave the data as it was
                if text is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(text)
            raise

    def _check(self, label: str, train: List[str], test: List[str], answer: Optional[str]) -> None:
        """The written files parse, and hold what was written where it belongs."""
        try:
            trained = self.project.training_examples().get(label, [])
            held = self.project.examples_by_label([self.project.reviewed_heldout]).get(label, [])
            answers = (yaml.safe_load(self.project.faq_answers.read_text()) or {}).get("responses") or {}
        except yaml.YAMLError as error:
            raise LabelError(f"The edited data would not be valid YAML ({error}); nothing was changed.") from None
        missing = [t for t in train if t not in trained] + [t for t in test if t not in held]
        if missing:
            raise LabelError(f"Could not write {missing!r} under {label}; nothing was changed.")
        if answer is not None and not answers.get(f"utter_{label}"):
            raise LabelError(f"Could not write the answer for {label}; nothing was changed.")
