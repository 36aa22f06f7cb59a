"""Is a customer's message dissatisfied? The detector's decision, pure.

A logistic regression over the message's sentence embedding (all-MiniLM-L6-v2, computed at the edge:
escalation/detector.py) and its VADER score, trained on GoEmotions (training/dissatisfaction.py) with
its threshold chosen on validation data. The weights are data (escalation/dissatisfaction_model.json),
read once per process; this module only applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from escalation.core.sentiment import DISSATISFIED_AT  # the lexicon's cut: where the model's threshold lands

EXTRA_FEATURES = ("vader_compound",)  # after the embedding, in this order


def combined_sentiment(lexicon_compound: float, probability: float, threshold: float) -> float:
    """One sentiment on the lexicon's scale (-1..1) from both detectors, so the escalation rules'
    per-tier thresholds keep their meaning: below the model's threshold the lexicon's score stands;
    at or above it, the model's confidence is placed on the scale from DISSATISFIED_AT (at the threshold)
    to -1 (certain), and the more negative of the two counts. A message either detector calls
    dissatisfied is dissatisfied: they miss different things (the lexicon: calm or unfamiliar wording;
    the model, trained on Reddit: support cues such as waiting and repetition)."""
    if probability < threshold:
        return lexicon_compound
    model = DISSATISFIED_AT - (1 + DISSATISFIED_AT) * (probability - threshold) / (1 - threshold)
    return min(lexicon_compound, model)


def dissatisfaction_score(sentiment: float) -> float:
    """The combined sentiment as a 0..1 score (1: most dissatisfied); dissatisfied from 0.625 up."""
    return (1 - max(-1.0, min(1.0, sentiment))) / 2


@dataclass(frozen=True)
class DissatisfactionModel:
    weights: Tuple[float, ...]  # one per embedding dimension, then one per EXTRA_FEATURES
    bias: float
    threshold: float  # a probability at or above this is "dissatisfied"
    about: Mapping[str, Any]  # how it was trained and how it scored on validation data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "DissatisfactionModel":
        weights = tuple(float(w) for w in data["weights"])
        threshold = float(data["threshold"])
        if not 0 < threshold < 1 or len(weights) <= len(EXTRA_FEATURES):
            raise ValueError("a dissatisfaction model needs weights and a threshold between 0 and 1")
        return cls(weights, float(data["bias"]), threshold, dict(data.get("about", {})))

    def as_mapping(self) -> Dict[str, Any]:
        return {
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "threshold": round(self.threshold, 4),
            "about": dict(self.about),
        }

    @property
    def dimensions(self) -> int:
        return len(self.weights) - len(EXTRA_FEATURES)

    def probability(self, embedding: Sequence[float], vader_compound: float) -> float:
        """How likely the message is dissatisfied, 0..1."""
        if len(embedding) != self.dimensions:
            raise ValueError(f"expected an embedding of {self.dimensions} numbers, got {len(embedding)}")
        features = (*embedding, vader_compound)
        z = self.bias + math.fsum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def is_dissatisfied(self, probability: float) -> bool:
        return probability >= self.threshold


def updated_with_labels(
    model: DissatisfactionModel,
    precision: NDArray[Any],
    features: NDArray[Any],
    labels: Sequence[int],
    label_weight: float,
    regularisation_c: float,
) -> DissatisfactionModel:
    """The model retrained as if `labels` (1: dissatisfied) had been added to its training data, each
    counting as `label_weight` of its original examples, without its original data: the original
    fit is summed up by `precision`, the curvature of its training objective at its weights (the
    Laplace approximation: sklearn's 0.5*|w|^2 + C*sum(log loss) is, near its optimum, a quadratic
    with that matrix). Newton's method on that quadratic plus the new examples' weighted log loss;
    deterministic. `features` has one row per label: the embedding, then EXTRA_FEATURES. The threshold
    stays the one chosen on the original validation data."""
    start = np.array([*model.weights, model.bias], dtype=np.float64)
    if precision.shape != (len(start), len(start)):
        raise ValueError(f"the precision matrix must be {len(start)}x{len(start)}, got {precision.shape}")
    targets = np.asarray(labels, dtype=np.float64)
    if len(targets) == 0:
        return model
    design = np.hstack([np.asarray(features, dtype=np.float64), np.ones((len(targets), 1))])
    scale = regularisation_c * label_weight
    theta = start.copy()
    for _ in range(50):
        probabilities = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = precision @ (theta - start) + scale * design.T @ (probabilities - targets)
        curvature = precision + scale * (design.T * (probabilities * (1 - probabilities))) @ design
        step = np.linalg.solve(curvature, gradient)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    about = {
        **model.about,
        "updated_with": {"labels": len(targets), "dissatisfied": int(targets.sum()), "label_weight": label_weight},
    }
    return DissatisfactionModel(tuple(float(w) for w in theta[:-1]), float(theta[-1]), model.threshold, about)
