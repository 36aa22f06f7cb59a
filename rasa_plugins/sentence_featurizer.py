"""Adds each message's sentence embedding (common/sentence_encoder.py: all-MiniLM-L6-v2, 384 numbers) to
the message as a dense sentence-level feature, so Rasa's classifiers and the project's can use it.

Feature origin: `sentence_embedding` (a component that should ignore it names the featurizers it wants,
as config.yml does for the ResponseSelector). Messages are encoded in the batches Rasa passes; the
encoder caches repeated texts. Not trainable: the encoder is fixed, so training only featurizes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from common.sentence_encoder import shared_encoder

FEATURE_ORIGIN = "sentence_embedding"


def sentence_embedding(message: Message) -> Optional[np.ndarray]:
    """The embedding this featurizer added to `message`, or None."""
    _, sentence = message.get_dense_features(TEXT, [FEATURE_ORIGIN])
    return None if sentence is None else np.asarray(sentence.features).reshape(-1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        shared_encoder()  # loads and verifies the model file now: a damaged one stops the server at start
        return cls()

    def _featurize(self, messages: List[Message]) -> None:
        wanted = [m for m in messages if m.get(TEXT) and sentence_embedding(m) is None]
        if not wanted:
            return
        for message, vector in zip(wanted, shared_encoder().encode([m.get(TEXT) for m in wanted])):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, FEATURE_ORIGIN))

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
