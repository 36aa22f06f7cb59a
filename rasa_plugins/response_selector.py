"""Rasa's ResponseSelector, asked only about messages whose intent is a retrieval intent.

Rasa runs every NLU component on every message. The ResponseSelector is a TensorFlow model and the
costliest step of a turn; its answer is only used when the intent is `faq` (the `utter_faq` action
reads it). Training and predictions for FAQ messages are exactly Rasa's; other messages skip it.

Also here: `utter_faq` answers a message without a selection (a typed "/faq") instead of failing.
"""

from __future__ import annotations

from typing import Any, List

from rasa.core.actions.action import ActionBotResponse, ActionRetrieveResponse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import RESPONSE_SELECTOR_PROPERTY_NAME as RESPONSE_SELECTOR_KEY
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


ANSWER_WITHOUT_A_SELECTION = "utter_please_rephrase"


def answer_without_a_selection(run_retrieval_action: Any) -> Any:
    """`utter_faq` when the message has no response selection: a customer typed "/faq" (or a payload of
    another retrieval intent). Rasa's RegexMessageHandler then replaces the NLU output with the payload's
    intent alone, and Rasa's own retrieval action fails with KeyError 'response_selector' and says
    nothing; here the customer is asked to put the question in words instead."""

    async def run(self, output_channel, nlg, tracker, domain) -> List[Any]:
        latest = tracker.latest_message
        if latest is not None and RESPONSE_SELECTOR_KEY not in latest.parse_data:
            return await ActionBotResponse(ANSWER_WITHOUT_A_SELECTION).run(output_channel, nlg, tracker, domain)
        return await run_retrieval_action(self, output_channel, nlg, tracker, domain)

    run.__wrapped__ = run_retrieval_action
    return run


def install() -> None:
    if getattr(ActionRetrieveResponse.run, "__wrapped__", None) is None:
        ActionRetrieveResponse.run = answer_without_a_selection(ActionRetrieveResponse.run)


# Loaded by every Rasa process that runs this project's model (config.yml names the selector).
install()
