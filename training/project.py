"""The bot's training project on disk (data/, the domain, config and the held-out test sets), read
as plain text and YAML so that the escalation service can use it without loading Rasa.

Every path hangs off one root directory (BOT_PROJECT_DIR, default: this repository), so tests and
dry runs can work on a copy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import yaml

from common.names import Intent

RETRIEVAL_INTENT = Intent.FAQ
# Intents a trainer may not label into: the fallback is predicted, never trained; FAQ messages go to
# a topic (faq/<topic>).
NOT_LABELLABLE = {Intent.NLU_FALLBACK, RETRIEVAL_INTENT}
OUT_OF_SCOPE = Intent.OUT_OF_SCOPE
_EXAMPLE_LINE = re.compile(r"^\s*- (.*)$")


def normalize(text: str) -> str:
    """For comparing messages: case, accents, punctuation and spacing do not matter."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass(frozen=True)
class BotProject:
    root: Path

    @property
    def faq_nlu(self) -> Path:
        return self.root / "data" / "nlu" / "faq.yml"

    @property
    def conversation_nlu(self) -> Path:
        return self.root / "data" / "nlu" / "conversation.yml"

    @property
    def faq_answers(self) -> Path:
        return self.root / "data" / "faq_answers.yml"

    @property
    def domain(self) -> Path:
        return self.root / "bot" / "domain.yml"

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def heldout_dir(self) -> Path:
        return self.root / "tests" / "nlu"

    @property
    def reviewed_heldout(self) -> Path:
        """Held-out messages from real traffic: a share of every labelled batch, never trained on."""
        return self.heldout_dir / "heldout_reviewed.yml"

    @property
    def dissatisfaction_labels(self) -> Path:
        """Customer messages trainers marked dissatisfied or not: the detector's own training data."""
        return self.data_dir / "dissatisfaction.yml"

    @property
    def dissatisfaction_heldout(self) -> Path:
        """The share of those labels held out by hash: the release gate checks the detector on them."""
        return self.root / "tests" / "dissatisfaction" / "heldout_reviewed.yml"

    @property
    def stories_dir(self) -> Path:
        return self.root / "tests" / "stories"

    def nlu_files(self) -> List[Path]:
        return sorted((self.data_dir / "nlu").glob("*.yml"))

    def heldout_files(self) -> List[Path]:
        return sorted(self.heldout_dir.glob("*.yml"))

    def examples_by_label(self, files: List[Path]) -> Dict[str, List[str]]:
        """label (intent or faq/<topic>) -> example texts, from NLU YAML files."""
        labels: Dict[str, List[str]] = {}
        for path in files:
            if not path.exists():
                continue
            for item in (yaml.safe_load(path.read_text()) or {}).get("nlu") or []:
                if "intent" in item:
                    lines = (item.get("examples") or "").splitlines()
                    texts = [m.group(1).strip() for m in map(_EXAMPLE_LINE.match, lines) if m]
                    labels.setdefault(item["intent"], []).extend(texts)
        return labels

    def training_examples(self) -> Dict[str, List[str]]:
        return self.examples_by_label(self.nlu_files())

    def heldout_examples(self) -> Dict[str, List[str]]:
        return self.examples_by_label(self.heldout_files())

    def faq_topics(self) -> List[str]:
        return sorted(label.split("/", 1)[1] for label in self.training_examples() if label.startswith("faq/"))

    def intents(self) -> List[str]:
        """Intents a message can be labelled with, besides FAQ topics."""
        domain = yaml.safe_load(self.domain.read_text()) or {}
        names = [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []]
        return sorted(n for n in names if n not in NOT_LABELLABLE)

    def known_texts(self) -> Dict[str, str]:
        """normalized text -> where it is (a label, or "held-out"), over training and held-out data."""
        known = {}
        for label, texts in self.heldout_examples().items():
            known.update({normalize(t): f"held-out test set ({label})" for t in texts})
        for label, texts in self.training_examples().items():
            known.update({normalize(t): label for t in texts})
        return known
