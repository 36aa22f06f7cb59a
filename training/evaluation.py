"""Evaluating a trained model on held-out messages: the release gate and the benchmarks use this.

A message counts as right when the bot would act on the right label: for help-centre questions the
FAQ topic the ResponseSelector picked (`faq/<topic>`), otherwise the intent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from common.names import Intent


class ModelParser:
    """Parses texts with a trained Rasa model in-process (NLU only, no server)."""

    def __init__(self, model_path: Path) -> None:
        import logging

        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # no per-message debug lines
        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(str(model_path))

    def parse(self, text: str) -> Dict:
        return self._loop.run_until_complete(self._agent.parse_message(text))

    def parse_all(self, texts: List[str]) -> List[Dict]:
        return [self.parse(t) for t in texts]


def retrieval_key(parse: Dict, retrieval_intent: str = Intent.FAQ) -> str:
    """The full label the bot acted on: `faq/<topic>` for FAQ, otherwise the intent name."""
    intent = (parse.get("intent") or {}).get("name")
    if intent == retrieval_intent:
        selected = parse.get("response_selector", {}).get(retrieval_intent, {})
        return selected.get("response", {}).get("intent_response_key") or intent
    return intent


@dataclass
class Evaluation:
    """Predictions on (text, gold label) pairs, with accuracy overall and per gold label."""

    rows: List[Tuple[str, str, str]]  # text, gold, predicted
    per_label: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # label -> (right, total)

    @property
    def accuracy(self) -> float:
        return sum(g == p for _, g, p in self.rows) / len(self.rows) if self.rows else float("nan")

    def label_accuracy(self, label: str) -> float:
        right, total = self.per_label.get(label, (0, 0))
        return right / total if total else float("nan")

    def confusions(self) -> Counter:
        return Counter((g, p) for _, g, p in self.rows if g != p)


def evaluate(parser: "ModelParser", examples: Sequence[Tuple[str, str]]) -> Evaluation:
    rows = [(text, gold, retrieval_key(parser.parse(text))) for text, gold in examples]
    per_label: Dict[str, List[int]] = {}
    for _, gold, predicted in rows:
        counts = per_label.setdefault(gold, [0, 0])
        counts[0] += gold == predicted
        counts[1] += 1
    return Evaluation(rows, {label: (right, total) for label, (right, total) in per_label.items()})


def detector_counts(parser: "ModelParser", labelled: Sequence[Tuple[str, int]]) -> Dict[str, Tuple[int, int]]:
    """Per label (dissatisfied / not_dissatisfied): (right, total) of the model's dissatisfaction
    detector on (text, 1 if dissatisfied) pairs: right when the parse's `sentiment` says the same."""
    counts: Dict[str, List[int]] = {}
    for text, value in labelled:
        said = bool(((parser.parse(text).get("sentiment") or {}).get("dissatisfied")))
        row = counts.setdefault("dissatisfied" if value else "not_dissatisfied", [0, 0])
        row[0] += said == bool(value)
        row[1] += 1
    return {label: (right, total) for label, (right, total) in counts.items()}


def confusion_chart(evaluation: Evaluation, title: str, path: Path) -> None:
    """The confusion matrix of the labels that occur, as a heat map (rows: expected, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = sorted({g for _, g, _ in evaluation.rows} | {p for _, _, p in evaluation.rows if p})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for _, gold, predicted in evaluation.rows:
        matrix[index[gold], index[predicted or gold]] += 1
    sums = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)
    size = max(6, 0.28 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Purples", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)))
    ax.set_yticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    for (row, column), value in np.ndenumerate(matrix):
        if value and row != column:
            ax.text(column, row, int(value), ha="center", va="center", fontsize=6, color="#c62828")
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
