"""FAQ answers: which answer of a retrieval intent (`faq/<topic>`) a message gets.

The intent classifier (rasa_plugins/intent_classifier.py) already ranks every FAQ topic with TF-IDF and
the sentence embedding; its best topic is the answer. This replaces Rasa's ResponseSelector, a
TensorFlow model that took most of the training time and was not deterministic: retraining it on the
same data flipped one or two held-out messages per topic, so the release gate had to tolerate that.
Now the same data always gives the same answers, and the gate tolerates no lost message (training/
release.py). The selection is written to the message exactly as Rasa's ResponseSelector writes it, so
Rasa's `utter_faq` action, the trainers' inbox and the evaluations read it unchanged.

Also here: `utter_faq` answers a message without a selection (a typed "/faq", whose NLU output Rasa's
RegexMessageHandler replaces) by asking to rephrase, instead of failing with KeyError.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from rasa.core.actions.action import ActionBotResponse, ActionRetrieveResponse
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.nlu.constants import RESPONSE_SELECTOR_PROPERTY_NAME as RESPONSE_SELECTOR_KEY
from rasa.shared.nlu.constants import INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, RESPONSE_IDENTIFIER_DELIMITER
from rasa.shared.nlu.training_data.message import Message

RANKING_LENGTH = 10


def answer_selection(
    retrieval_intent: str,
    topics: Sequence[Tuple[str, float]],
    responses: Dict[str, List[Dict[str, Any]]],
    all_retrieval_intents: Sequence[str],
) -> Dict[str, Any]:
    """The `response_selector` property for a message whose intent is `retrieval_intent`, from the
    classifier's ranking of that intent's topics (`faq/<topic>`, confidence), best first."""
    best, confidence = topics[0]
    utter_action = f"utter_{best}"
    return {
        RESPONSE_SELECTOR_RETRIEVAL_INTENTS: list(all_retrieval_intents),
        retrieval_intent: {
            RESPONSE_SELECTOR_PREDICTION_KEY: {
                RESPONSE_SELECTOR_RESPONSES_KEY: responses.get(utter_action, []),
                PREDICTED_CONFIDENCE_KEY: confidence,
                INTENT_RESPONSE_KEY: best,
                RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
            },
            RESPONSE_SELECTOR_RANKING_KEY: [
                {"id": index, PREDICTED_CONFIDENCE_KEY: c, INTENT_RESPONSE_KEY: label}
                for index, (label, c) in enumerate(topics[:RANKING_LENGTH])
            ],
        },
    }


def select_answer(
    message: Message,
    labels: Sequence[str],
    probabilities: Sequence[float],
    responses: Dict[str, List[Dict[str, Any]]],
) -> None:
    """Sets the message's answer when its intent is a retrieval intent (labels `intent/topic`)."""
    intent = (message.get("intent") or {}).get("name")
    prefix = f"{intent}{RESPONSE_IDENTIFIER_DELIMITER}"
    topics = sorted(
        ((label, float(p)) for label, p in zip(labels, probabilities) if label.startswith(prefix)),
        key=lambda pair: -pair[1],
    )
    if not topics:
        return
    retrieval_intents = sorted({label.split(RESPONSE_IDENTIFIER_DELIMITER, 1)[0] for label in labels if "/" in label})
    message.set(
        RESPONSE_SELECTOR_KEY, answer_selection(intent, topics, responses, retrieval_intents), add_to_output=True
    )


ANSWER_WITHOUT_A_SELECTION = "utter_please_rephrase"


def answer_without_a_selection(run_retrieval_action: Any) -> Any:
    """`utter_faq` when the message has no selection: a customer typed "/faq" (or a payload of another
    retrieval intent). Rasa's RegexMessageHandler then replaces the NLU output with the payload's intent
    alone, and Rasa's own retrieval action fails with KeyError 'response_selector' and says nothing; here
    the customer is asked to put the question in words instead."""

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
