"""The dissatisfaction detector at the edge: the trained model (escalation/dissatisfaction_model.json,
read once per process) applied to sentence embeddings (common/sentence_encoder.py), with the VADER score
and the support cues that fired, so agents can see why a message counted.

`assess(texts)` takes a batch (Rasa gives the NLU pipeline batches; the console asks for a transcript at
once); repeated texts come from the encoder's cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Sequence, Tuple

from common.sentence_encoder import shared_encoder
from escalation.core.dissatisfaction import DissatisfactionModel
from escalation.core.sentiment import score_message

MODEL_FILE = Path(__file__).resolve().parent / "dissatisfaction_model.json"


@dataclass(frozen=True)
class Assessment:
    score: float  # probability that the message is dissatisfied, 0..1
    dissatisfied: bool  # score at or above the model's threshold
    compound: float  # the lexicon's sentiment (VADER with support cues), -1..1
    cues: Tuple[str, ...]  # the support cues that fired ("waiting", "repetition", ...)

    def as_json(self) -> dict:
        return {
            "score": round(self.score, 4),
            "dissatisfied": self.dissatisfied,
            "compound": self.compound,
            "cues": list(self.cues),
        }


@lru_cache(maxsize=1)
def shared_model(path: Path = MODEL_FILE) -> DissatisfactionModel:
    return DissatisfactionModel.from_mapping(json.loads(path.read_text()))


def assess(texts: Sequence[str]) -> List[Assessment]:
    model = shared_model()
    embeddings = shared_encoder().encode(list(texts))
    found = []
    for text, embedding in zip(texts, embeddings):
        lexicon = score_message(text)
        probability = model.probability(embedding.tolist(), lexicon.vader_compound)
        found.append(Assessment(probability, model.is_dissatisfied(probability), lexicon.compound, lexicon.cues))
    return found
