"""Trains the dissatisfaction detector: `make dissatisfaction-model` (python -m training.dissatisfaction).

Training data: GoEmotions' train split (training/data/goemotions, Apache-2.0; 43,410 Reddit comments
labelled with emotions by raters); the threshold is chosen on its dev split (5,426). The test split is
never read here: the benchmarks score on it (and on other public sets) from outside the repository.

Which emotions mean "a dissatisfied customer": GoEmotions' own negative group (the paper's sentiment
grouping): anger, annoyance, disappointment, disapproval, disgust, embarrassment, fear, grief,
nervousness, remorse and sadness. A customer writing to support in any of these states is not
satisfied with where things stand: angry or let down by the service, but just as often worried ("I'm
afraid my parcel is lost") or dejected ("I was really looking forward to it") without a harsh word,
and those calm complaints are what a lexicon misses. The first version used only the five
anger-family emotions; on the team's own hand-written complaints it scored calm ones ("my order
hasn't arrived after three weeks and nobody answers my emails") like questions, so it was widened to
the whole group (the choice was made from that reasoning and those few messages, not from any set the
benchmarks score). A comment counts as dissatisfied when any of its labels is in the group; every
other comment, neutral ones included, is not.

Features: the message's sentence embedding (common/sentence_encoder.py) and its VADER compound score.
Model: scikit-learn's logistic regression (deterministic for the same data), threshold maximising F1 on
the dev split. The result, with the scores it had on dev, is written to
escalation/dissatisfaction_model.json, and the curvature of the training objective at the weights (its
precision matrix) to escalation/dissatisfaction_precision.npy; both are committed: `make demo` and
`make test` do not retrain. The precision matrix lets every `rasa train` add the trainers' own labels
(data/dissatisfaction.yml) to the model as if it were retrained on GoEmotions with them, without
GoEmotions (escalation/core/dissatisfaction.py: updated_with_labels).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from common import sentence_encoder
from common.settings import PROJECT_ROOT, VAR_DIR
from escalation.core.dissatisfaction import DissatisfactionModel
from escalation.core.sentiment import vader_compound
from escalation.detector import MODEL_FILE, PRECISION_FILE

DATA_DIR = PROJECT_ROOT / "training" / "data" / "goemotions"
DISSATISFIED_EMOTIONS = (
    "anger",
    "annoyance",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "fear",
    "grief",
    "nervousness",
    "remorse",
    "sadness",
)
REGULARISATION_C = 1.0
CACHE_DIR = VAR_DIR / "cache"
ENCODE_CHUNK = 1024


def emotion_names(data_dir: Path = DATA_DIR) -> List[str]:
    return (data_dir / "emotions.txt").read_text().split()


def labelled_comments(split: str, data_dir: Path = DATA_DIR) -> Tuple[List[str], np.ndarray]:
    """The split's texts and a 0/1 label each (1: dissatisfied by the mapping above)."""
    names = emotion_names(data_dir)
    wanted = {names.index(e) for e in DISSATISFIED_EMOTIONS}
    texts, labels = [], []
    for line in (data_dir / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        texts.append(text)
        labels.append(int(any(int(i) in wanted for i in ids.split(","))))
    return texts, np.array(labels, dtype=np.int64)


def features(texts: Sequence[str], progress: str = "") -> np.ndarray:
    """Embedding and VADER score per text; kept in var/cache (by the texts' and the encoder's hash), so
    retraining on the same texts does not encode them again."""
    digest = hashlib.sha256("\n".join(texts).encode() + sentence_encoder.MODEL_SHA256.encode()).hexdigest()[:24]
    cached = CACHE_DIR / f"features-{digest}.npy"
    if cached.exists():
        return np.load(cached)
    found = _encode(texts, progress)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cached, found)
    return found


def _encode(texts: Sequence[str], progress: str) -> np.ndarray:
    """Embedding and VADER score per text, encoded in chunks with progress on stderr."""
    encoder = sentence_encoder.SentenceEncoder(  # all cores: this runs at build time, not beside a server
        sentence_encoder.package_file(sentence_encoder.MODEL_PACKAGE, sentence_encoder.MODEL_FILE),
        sentence_encoder.package_file(sentence_encoder.TOKENIZER_PACKAGE, sentence_encoder.TOKENIZER_FILE),
        threads=os.cpu_count() or 1,
    )
    rows, started = [], time.monotonic()
    for start in range(0, len(texts), ENCODE_CHUNK):
        chunk = list(texts[start : start + ENCODE_CHUNK])
        vader = np.array([[vader_compound(t)] for t in chunk], dtype=np.float32)
        rows.append(np.hstack([encoder.encode(chunk), vader]))
        if progress:
            done = min(start + ENCODE_CHUNK, len(texts))
            print(
                f"\r==> {progress}: {done}/{len(texts)} ({time.monotonic() - started:.0f} s)", end="", file=sys.stderr
            )
    if progress:
        print(file=sys.stderr)
    return np.vstack(rows)


def best_threshold(labels: np.ndarray, probabilities: np.ndarray) -> Tuple[float, Dict[str, float]]:
    """The threshold with the highest F1 on these (validation) labels, and its precision, recall and F1."""
    best = (0.5, {"precision": 0.0, "recall": 0.0, "f1": 0.0})
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):  # exact hundredths, as reported
        predicted = probabilities >= threshold
        true_positives = int(np.sum(predicted & (labels == 1)))
        precision = true_positives / max(int(predicted.sum()), 1)
        recall = true_positives / max(int(labels.sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[1]["f1"]:
            best = (float(round(threshold, 2)), {"precision": precision, "recall": recall, "f1": f1})
    return best[0], {key: round(value, 4) for key, value in best[1].items()}


def data_digest(data_dir: Path = DATA_DIR) -> str:
    digest = hashlib.sha256()
    for name in ("train.tsv", "dev.tsv", "emotions.txt"):
        digest.update((data_dir / name).read_bytes())
    digest.update(",".join(DISSATISFIED_EMOTIONS).encode())
    return digest.hexdigest()


def precision_matrix(model: DissatisfactionModel, train_features: np.ndarray) -> np.ndarray:
    """The Hessian of scikit-learn's objective (0.5*|w|^2 + C*sum(log loss); the intercept is not
    penalised) at the model's weights, over (weights..., intercept)."""
    design = np.hstack([train_features.astype(np.float64), np.ones((len(train_features), 1))])
    theta = np.array([*model.weights, model.bias])
    probabilities = 1.0 / (1.0 + np.exp(-(design @ theta)))
    hessian = REGULARISATION_C * (design.T * (probabilities * (1 - probabilities))) @ design
    hessian[np.arange(len(theta) - 1), np.arange(len(theta) - 1)] += 1.0
    return hessian


def train(data_dir: Path = DATA_DIR) -> DissatisfactionModel:
    from sklearn.linear_model import LogisticRegression

    train_texts, train_labels = labelled_comments("train", data_dir)
    dev_texts, dev_labels = labelled_comments("dev", data_dir)
    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=5000)
    classifier.fit(features(train_texts, "Encoding GoEmotions train"), train_labels)
    dev_probabilities = classifier.predict_proba(features(dev_texts, "Encoding GoEmotions dev"))[:, 1]
    threshold, on_dev = best_threshold(dev_labels, dev_probabilities)
    return DissatisfactionModel(
        tuple(float(w) for w in classifier.coef_[0]),
        float(classifier.intercept_[0]),
        threshold,
        {
            "trained_on": f"GoEmotions train ({len(train_texts)} comments, {int(train_labels.sum())} dissatisfied)",
            "dissatisfied_emotions": list(DISSATISFIED_EMOTIONS),
            "threshold_chosen_on": f"GoEmotions dev ({len(dev_texts)} comments), highest F1",
            "on_dev": on_dev,
            "features": "all-MiniLM-L6-v2 embedding (384) + VADER compound",
            "regularisation_c": REGULARISATION_C,
            "data_sha256": data_digest(data_dir),
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )


def main() -> None:
    model = train()
    MODEL_FILE.write_text(json.dumps(model.as_mapping(), indent=1) + "\n")
    # The precision matrix at the weights as written (rounded), so that updates start where loading does.
    written = DissatisfactionModel.from_mapping(model.as_mapping())
    train_features = features(labelled_comments("train")[0], "Encoding GoEmotions train")
    np.save(PRECISION_FILE, precision_matrix(written, train_features).astype(np.float32))
    print(
        f"==> Wrote {MODEL_FILE.relative_to(PROJECT_ROOT)}: threshold {model.threshold}, "
        f"on dev {model.about['on_dev']}; and its precision matrix, {PRECISION_FILE.relative_to(PROJECT_ROOT)}"
    )


if __name__ == "__main__":
    main()
