"""One rule for choosing a fallback threshold, used for the product bot and for CLINC150 alike.

Rule (fixed before any test-set result was seen): on validation data, take the highest threshold
whose in-scope accuracy is at most `budget` below the in-scope accuracy with no threshold. That
catches as many out-of-scope messages as a one-point loss of in-scope accuracy allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Sequence

import numpy as np

CANDIDATES = tuple(round(x, 3) for x in np.arange(0.0, 0.951, 0.01))
DEFAULT_BUDGET = 0.01


@dataclass(frozen=True)
class Prediction:
    gold_in_scope: bool
    correct: bool  # predicted label == gold label (for in-scope examples)
    predicted_out_of_scope: bool  # the classifier itself said out-of-scope
    confidence: float


@dataclass(frozen=True)
class Operating:
    threshold: float
    in_scope_accuracy: float
    out_of_scope_recall: float


def operating_point(predictions: Sequence[Prediction], threshold: float) -> Operating:
    in_scope = [p for p in predictions if p.gold_in_scope]
    out_scope = [p for p in predictions if not p.gold_in_scope]

    def rejected(p):
        return p.predicted_out_of_scope or p.confidence < threshold

    accuracy = sum(p.correct and not rejected(p) for p in in_scope) / max(len(in_scope), 1)
    recall = sum(rejected(p) for p in out_scope) / max(len(out_scope), 1)
    return Operating(threshold, accuracy, recall)


def choose_threshold(
    predictions: Sequence[Prediction], budget: float = DEFAULT_BUDGET, candidates: Iterable[float] = CANDIDATES
) -> Operating:
    baseline = operating_point(predictions, 0.0).in_scope_accuracy
    allowed = [operating_point(predictions, t) for t in candidates]
    allowed = [o for o in allowed if o.in_scope_accuracy >= baseline - budget - 1e-12]
    return max(allowed, key=lambda o: o.threshold)


def curve(predictions: Sequence[Prediction], candidates: Iterable[float] = CANDIDATES) -> List[Operating]:
    return [operating_point(predictions, t) for t in candidates]
