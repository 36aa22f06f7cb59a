"""The dissatisfaction detector at the edge: the trained model (escalation/dissatisfaction_model.json,
read once per process) applied to sentence embeddings (common/sentence_encoder.py), combined with the
lexicon (VADER and support cues) into the one sentiment the escalation policy uses
(escalation/core/dissatisfaction.py: combined_sentiment), with the cues that fired, so agents can see
why a message counted.

`assess(texts)` takes a batch (Rasa gives the NLU pipeline batches; the console asks for a transcript at
once); repeated texts come from the encoder's cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from common.sentence_encoder import shared_encoder
from escalation.core.dissatisfaction import (
    DissatisfactionModel,
    combined_sentiment,
    dissatisfaction_score,
    updated_with_labels,
)
from escalation.core.sentiment import DISSATISFIED_AT, score_message, vader_compound

MODEL_FILE = Path(__file__).resolve().parent / "dissatisfaction_model.json"
PRECISION_FILE = MODEL_FILE.with_name("dissatisfaction_precision.npy")  # for adding labels (training/)


@dataclass(frozen=True)
class Assessment:
    compound: float  # the combined sentiment, -1..1: what the escalation policy compares with its thresholds
    score: float  # the same as dissatisfaction, 0..1 (1: most dissatisfied)
    dissatisfied: bool  # either detector says so (compound at or below DISSATISFIED_AT)
    model_probability: float  # the embedding model's alone, 0..1
    lexicon_compound: float  # the lexicon's alone (VADER with support cues), -1..1
    cues: Tuple[str, ...]  # the support cues that fired ("waiting", "repetition", ...)

    def as_json(self) -> dict:
        return {
            "compound": round(self.compound, 4),
            "dissatisfaction": round(self.score, 4),
            "dissatisfied": self.dissatisfied,
            "model_probability": round(self.model_probability, 4),
            "lexicon_compound": self.lexicon_compound,
            "cues": list(self.cues),
        }


@lru_cache(maxsize=1)
def shared_model(path: Path = MODEL_FILE) -> DissatisfactionModel:
    return read_model(path)


DISSATISFIED, NOT_DISSATISFIED = "dissatisfied", "not_dissatisfied"  # the keys of a labels file


def labelled_messages(path: Path) -> Tuple[List[str], List[int]]:
    """A labels file's messages and their labels (1: dissatisfied). The file (data/dissatisfaction.yml,
    written by the trainers' inbox) has two lists: `dissatisfied:` and `not_dissatisfied:`. No file: none."""
    import yaml

    if not path.exists():
        return [], []
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(content, dict):
        raise ValueError(f"{path} must have the lists {DISSATISFIED}: and {NOT_DISSATISFIED}:")
    texts: List[str] = []
    labels: List[int] = []
    for key, label in ((DISSATISFIED, 1), (NOT_DISSATISFIED, 0)):
        for text in content.get(key) or []:
            texts.append(str(text))
            labels.append(label)
    return texts, labels


def read_model(path: Path) -> DissatisfactionModel:
    return DissatisfactionModel.from_mapping(json.loads(path.read_text()))


def updated_model(texts: Sequence[str], labels: Sequence[int], label_weight: float) -> DissatisfactionModel:
    """The committed model with these labelled messages (1: dissatisfied) added to its training data."""
    import numpy as np

    base = shared_model()
    if not texts:
        return base
    vectors = shared_encoder().encode(list(texts))
    vader = np.array([[vader_compound(t)] for t in texts])
    regularisation = float(base.about.get("regularisation_c", 1.0))
    return updated_with_labels(
        base,
        np.load(PRECISION_FILE).astype(np.float64),
        np.hstack([vectors, vader]),
        labels,
        label_weight,
        regularisation,
    )


def assess(
    texts: Sequence[str],
    embeddings: Optional[Sequence[Sequence[float]]] = None,
    model: Optional[DissatisfactionModel] = None,
) -> List[Assessment]:
    """The texts' assessments; their sentence embeddings are computed unless given (the NLU featurizer's).
    `model`: the one a trained Rasa model carries (with the trainers' labels); else the committed one."""
    model = model or shared_model()
    if embeddings is None:
        embeddings = shared_encoder().encode(list(texts))
    found = []
    for text, embedding in zip(texts, embeddings):
        lexicon = score_message(text)
        probability = model.probability(list(embedding), lexicon.vader_compound)
        compound = round(combined_sentiment(lexicon.compound, probability, model.threshold), 4)
        found.append(
            Assessment(
                compound,
                dissatisfaction_score(compound),
                compound <= DISSATISFIED_AT,
                probability,
                lexicon.compound,
                lexicon.cues,
            )
        )
    return found
