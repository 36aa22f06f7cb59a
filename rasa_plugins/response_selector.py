"""Rasa's ResponseSelector, asked only about messages whose intent is a retrieval intent.

Rasa runs every NLU component on every message. The ResponseSelector is a TensorFlow model and the
costliest step of a turn; its answer is only used when the intent is `faq` (the `utter_faq` action
reads it). Training and predictions for FAQ messages are exactly Rasa's; other messages skip it.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RetrievalResponseSelector(ResponseSelector):
    def _answers(self, message: Message) -> bool:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if self.retrieval_intent:
            return intent == self.retrieval_intent
        return intent in self.all_retrieval_intents

    def process(self, messages: List[Message]) -> List[Message]:
        super().process([m for m in messages if self._answers(m)])
        return messages
