"""Chooses ResponseSelector settings by k-fold cross-validation on the *training* data only.

The held-out test set (tests/nlu/heldout.yml) plays no part here, so choosing settings with this
script does not tune on the test set. Usage: python -m bench.faq_cv [folds] [variant ...]
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import rasa.shared.utils.io as rasa_io
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.common import ModelParser, retrieval_key, stratified_folds, training_label
from common.settings import PROJECT_ROOT

VARIANTS: Dict[str, Dict] = {
    "current": {},
    "epochs200": {"epochs": 200},
    "epochs50": {"epochs": 50},
    "epochs30": {"epochs": 30},
    "char2to5": {"_char": {"min_ngram": 2, "max_ngram": 5}},
}


def variant_config(name: str) -> Dict:
    config = rasa_io.read_yaml_file(PROJECT_ROOT / "config.yml")
    changes = copy.deepcopy(VARIANTS[name])
    char = changes.pop("_char", None)
    for component in config["pipeline"]:
        if component["name"].endswith("ResponseSelector"):
            component.update(changes)
        if char and component.get("analyzer") == "char_wb":
            component.update(char)
    return config


def folds(data: TrainingData, k: int) -> List[List]:
    faq = [m for m in data.intent_examples if training_label(m).startswith("faq/")]
    return stratified_folds(faq, k, seed=7)


def cross_validate(variant: str, k: int) -> float:
    from rasa.model_training import train_nlu

    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    data = data.merge(load_data(str(PROJECT_ROOT / "data" / "faq_answers.yml")))
    config = variant_config(variant)
    correct = total = 0
    for index, held in enumerate(folds(data, k)):
        held_ids = {id(m) for m in held}
        train_examples = [m for m in data.training_examples if id(m) not in held_ids]
        fold_data = TrainingData(train_examples, responses=data.responses)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "nlu.yml").write_text(fold_data.nlu_as_yaml())
            rasa_io.write_yaml(config, tmp_path / "config.yml")
            model = train_nlu(
                str(tmp_path / "config.yml"),
                str(tmp_path / "nlu.yml"),
                str(tmp_path / "models"),
                domain=str(PROJECT_ROOT / "bot" / "domain.yml"),
            )
            parser = ModelParser(Path(model))
            for m in held:
                total += 1
                correct += retrieval_key(parser.parse(m.get("text"))) == m.get("intent_response_key")
        print(f"   {variant} fold {index + 1}/{k}: running accuracy {correct / total:.3f}", flush=True)
    return correct / total


if __name__ == "__main__":
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    names = sys.argv[2:] or list(VARIANTS)
    for name in names:
        started = time.time()
        accuracy = cross_validate(name, k)
        print(
            f"{name}: {k}-fold FAQ topic accuracy on training data {accuracy:.3f} ({time.time() - started:.0f} s)",
            flush=True,
        )
