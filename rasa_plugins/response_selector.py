"""Rasa's ResponseSelector, asked only about messages whose intent is a retrieval intent.

Rasa runs every NLU component on every message. The ResponseSelector is a TensorFlow model and the
costliest step of a turn; its answer is only used when the intent is `faq` (the `utter_faq` action
reads it). Training and predictions for FAQ messages are exactly Rasa's; other messages skip it.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

INTENT_PAYLOAD_PREFIX = "/"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RetrievalResponseSelector(ResponseSelector):
    def _answers(self, message: Message) -> bool:
        if (message.get(TEXT) or "").startswith(INTENT_PAYLOAD_PREFIX):
            # "/faq" typed or sent as a payload: Rasa's RegexMessageHandler sets the intent after this
            # component, so the classifier's intent says nothing; answer as Rasa's own selector would
            # (utter_faq needs a selection, or it fails with KeyError 'response_selector').
            return True
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if self.retrieval_intent:
            return intent == self.retrieval_intent
        return intent in self.all_retrieval_intents

    def process(self, messages: List[Message]) -> List[Message]:
        super().process([m for m in messages if self._answers(m)])
        return messages
