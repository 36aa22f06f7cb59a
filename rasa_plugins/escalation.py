"""The escalation module inside the Rasa server: thin adapters of escalation/core, so ordinary turns
need no extra HTTP hop.

- `SentimentAnnotator` (NLU pipeline) adds `sentiment` to every parsed message (escalation/detector.py:
  the lexicon and the embedding model combined, with the model's score and the cues that fired), so
  each customer message in the tracker carries it for the policy, agents and analytics.
- `EscalationPolicy` (dialogue policy) runs escalation.core.policy.decide on every customer turn from the
  tracker alone (segment slots, this session's messages), with the rules read once when the model
  loads, from ESCALATION_RULES_FILE. Only when the decision is not "stay" does
  it predict `action_escalate`, which runs in the action server and decides again with the live
  queue and clock, enqueues, tells the customer and pauses the conversation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.constants import DEFAULT_POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from common.names import ACTION_ESCALATE, FRESH_START_EVENTS
from common.settings import setting
from escalation.core.dissatisfaction import DissatisfactionModel
from escalation.core.policy import CustomerView, QueueState, Signals, decide
from escalation.core.sentiment import sentiment_label, turns_from_events
from escalation.detector import (
    MODEL_FILE,
    PRECISION_FILE,
    assess,
    labelled_messages,
    read_model,
    shared_model,
    updated_model,
)
from escalation.rules_file import load_rules
from rasa_plugins import action_calls
from rasa_plugins.sentence_featurizer import sentence_embedding

SENTIMENT_KEY = "sentiment"
logger = logging.getLogger(__name__)


# Loaded by every Rasa process that runs this project's model (config.yml names the policy).
action_calls.install()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentimentAnnotator(GraphComponent):
    """Carries the dissatisfaction detector in the trained model: training adds the trainers' labels
    (the `labels` file, relative to where `rasa train` runs: the project root) to the committed
    GoEmotions model, so a release ships, gates and loads the detector with the intents, on every
    Rasa process that loads the model."""

    DETECTOR_FILE = "dissatisfaction_detector.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # label_weight: one trainer's label counts as this many GoEmotions comments. They are the
        # business's own customers, so they count for more; ten means 1,000 labels weigh a quarter
        # as much as GoEmotions' 43,410 comments.
        return {"labels": "data/dissatisfaction.yml", "label_weight": 10.0}

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # Retrain when the labels, the committed model or this code change, not only the NLU data.
        digest = hashlib.sha256(Path(__file__).read_bytes())
        labels = Path({**cls.get_default_config(), **config}["labels"])
        for path in (labels, MODEL_FILE, PRECISION_FILE):
            digest.update(path.read_bytes() if path.exists() else b"-")
        return digest.hexdigest()

    def __init__(
        self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, detector: DissatisfactionModel
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.detector = detector

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentimentAnnotator":
        return cls(config, model_storage, resource, shared_model())

    def train(self, training_data: TrainingData) -> Resource:
        path = Path(self.config["labels"])
        texts, labels = labelled_messages(path)
        self.detector = updated_model(texts, labels, float(self.config["label_weight"]))
        logger.info(
            "Dissatisfaction detector: %d trainers' labels from %s added to the GoEmotions model.", len(texts), path
        )
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self.DETECTOR_FILE).write_text(json.dumps(self.detector.as_mapping()))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentimentAnnotator":
        try:
            with model_storage.read_from(resource) as directory:
                detector = read_model(directory / cls.DETECTOR_FILE)
        except (ValueError, FileNotFoundError):  # a model trained before the detector was trainable
            detector = shared_model()
        return cls(config, model_storage, resource, detector)

    def process(self, messages: List[Message]) -> List[Message]:
        scored = [m for m in messages if m.get(TEXT)]
        # The featurizer earlier in the pipeline already embedded each message: used, not looked up again.
        embeddings = [sentence_embedding(m) for m in scored]
        given = None if any(e is None for e in embeddings) else embeddings
        for message, assessment in zip(scored, assess([m.get(TEXT) for m in scored], given, self.detector)):
            label = sentiment_label(assessment.compound)
            message.set(SENTIMENT_KEY, {**assessment.as_json(), "label": label}, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def _user_spoke_since_last_action(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted):
            return False
    return False


def _session_user_events(tracker: DialogueStateTracker) -> List[Dict[str, Any]]:
    """The customer's messages since the latest fresh start (FRESH_START_EVENTS: a new session, a
    restart, the bot taking the conversation back from a person) as minimal JSON events, oldest first.
    Walks back only that far and converts only user messages: this runs on every turn."""
    found = []
    for event in reversed(tracker.events):
        if event.type_name in FRESH_START_EVENTS:
            break
        if isinstance(event, UserUttered):
            found.append({"event": "user", "text": event.text, "parse_data": event.parse_data})
    return found[::-1]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class EscalationPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": DEFAULT_POLICY_PRIORITY + 6}  # above RulePolicy: escalation comes first

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(
            {**self.get_default_config(), **config}, model_storage, resource, execution_context, featurizer
        )
        # Read once, when the model loads; invalid rules stop the server at start, with the reasons.
        self._rules = load_rules(Path(setting("ESCALATION_RULES_FILE")))

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # rules, not learned: the rules file is read when the model loads

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if tracker.latest_action_name == ACTION_ESCALATE and not _user_spoke_since_last_action(tracker):
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if not _user_spoke_since_last_action(tracker) or ACTION_ESCALATE not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        turns = turns_from_events(_session_user_events(tracker))
        if not turns:
            return self._prediction(probabilities)
        # Triggers do not depend on the queue; the action decides with the live queue and clock.
        anyone = QueueState({q: 0 for q in self._rules.queues}, {q: 1 for q in self._rules.queues})
        decision = decide(
            CustomerView.from_slots(tracker.current_slot_values()),
            Signals.from_turns(turns),
            anyone,
            datetime.now(timezone.utc),
            self._rules,
        )
        if decision.escalates:
            probabilities[domain.index_for_action(ACTION_ESCALATE)] = 1.0
        return self._prediction(probabilities)
