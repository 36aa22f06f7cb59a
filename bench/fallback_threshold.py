"""Chooses the product bot's FallbackClassifier threshold by 5-fold cross-validation on the
training data (data/nlu), with the rule in bench/thresholds.py. The held-out test set plays no part.
The out-of-scope training examples stand in for out-of-scope traffic.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.common import stratified_folds
from bench.thresholds import Prediction, choose_threshold
from common.settings import PROJECT_ROOT
from rasa_plugins.intent_classifier import LinearIntentClassifier
from rasa_plugins.sentence_featurizer import SentenceEmbeddingFeaturizer

OUT_OF_SCOPE = "out_of_scope"


def train_classifier(messages: List, config: Dict, directory: Path) -> LinearIntentClassifier:
    storage = LocalModelStorage(directory)
    context = ExecutionContext(GraphSchema({}), "cv")
    component = LinearIntentClassifier.create(config, storage, Resource("cv"), context)
    component.train(TrainingData(messages))
    return component


def cross_validated_predictions(config: Dict, k: int = 5) -> List[Prediction]:
    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    # As in the bot's pipeline: each message's sentence embedding first (the classifier uses it).
    SentenceEmbeddingFeaturizer.create({}, None, None, ExecutionContext(GraphSchema({}), "cv")).process_training_data(
        data
    )
    messages = [m for m in data.intent_examples if m.get("text")]
    predictions: List[Prediction] = []
    for held in stratified_folds(messages, k, seed=11):
        held_ids = {id(m) for m in held}
        with tempfile.TemporaryDirectory() as tmp:
            classifier = train_classifier([m for m in messages if id(m) not in held_ids], config, Path(tmp))
            held_embeddings = LinearIntentClassifier._embeddings(held)
            intents, probabilities = classifier.intent_probabilities([m.get("text") for m in held], held_embeddings)
        for m, row in zip(held, probabilities):
            best = int(row.argmax())
            predicted = intents[best]
            gold = m.get("intent")
            predictions.append(
                Prediction(gold != OUT_OF_SCOPE, predicted == gold, predicted == OUT_OF_SCOPE, float(row[best]))
            )
    return predictions


def main() -> None:
    import yaml

    config = next(
        c
        for c in yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
        if c["name"].endswith("LinearIntentClassifier")
    )
    chosen = choose_threshold(cross_validated_predictions(config))
    print(
        f"5-fold CV on training data: threshold {chosen.threshold:.2f} keeps intent accuracy "
        f"{chosen.in_scope_accuracy:.3f} and catches {chosen.out_of_scope_recall:.3f} of out-of-scope"
    )


if __name__ == "__main__":
    main()
