"""The custom intent classifier on small data, through Rasa's own component interfaces."""

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_plugins.intent_classifier import LinearIntentClassifier

EXAMPLES = {
    "greet": ["hi", "hello", "hey there", "good morning"],
    "faq/order_status": ["where is my order", "order status please", "has my order shipped", "track my order"],
    "faq/refund": ["where is my refund", "refund not received", "when do I get my money back", "refund status"],
    "request_human": ["talk to a human", "get me an agent", "real person please", "speak to someone"],
}


def training_data() -> TrainingData:
    messages = []
    for label, texts in EXAMPLES.items():
        intent, _, topic = label.partition("/")
        for text in texts:
            data = {"text": text, "intent": intent}
            if topic:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(messages)


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def parse(component, text):
    message = Message(data={"text": text})
    component.process([message])
    return message


def test_learns_topics_and_reports_the_retrieval_intent(storage):
    resource = Resource("clf")
    component = LinearIntentClassifier.create({}, storage, resource, context())
    component.train(training_data())
    assert sorted(component.classes) == sorted(EXAMPLES)  # topics learned separately
    message = parse(component, "where is my refund??")
    assert message.get("intent")["name"] == "faq"
    names = [entry["name"] for entry in message.get("intent_ranking")]
    assert sorted(names) == ["faq", "greet", "request_human"]  # topics merged back into `faq`


def test_retrieval_confidence_is_the_best_topic_not_the_sum(storage):
    component = LinearIntentClassifier.create({}, storage, Resource("clf"), context())
    component.train(training_data())
    intents, merged = component.intent_probabilities(["zzqx blorft"])
    labels = component.predict_proba(["zzqx blorft"])[0]
    faq_columns = [i for i, c in enumerate(component.classes) if c.startswith("faq/")]
    assert merged[0, intents.index("faq")] == pytest.approx(labels[faq_columns].max())


def test_persisted_model_loads_and_predicts_the_same(storage):
    resource = Resource("clf")
    trained = LinearIntentClassifier.create({}, storage, resource, context())
    trained.train(training_data())
    loaded = LinearIntentClassifier.load({}, storage, resource, context())
    for text in ["hello!", "i want a person", "has my parcel shipped", "refund please"]:
        assert parse(loaded, text).get("intent") == parse(trained, text).get("intent")
    np.testing.assert_allclose(loaded.predict_proba(["hey"]), trained.predict_proba(["hey"]), rtol=1e-6)


def test_messages_without_text_are_left_alone(storage):
    component = LinearIntentClassifier.create({}, storage, Resource("clf"), context())
    component.train(training_data())
    message = Message(data={"text": ""})
    component.process([message])
    assert message.get("intent") is None


def test_untrained_model_loads_without_error(storage):
    loaded = LinearIntentClassifier.load({}, storage, Resource("never-trained"), context())
    message = Message(data={"text": "hi"})
    loaded.process([message])
    assert message.get("intent") is None


def test_fast_tfidf_matches_sklearn(storage):
    component = LinearIntentClassifier.create({}, storage, Resource("clf"), context())
    component.train(training_data())
    texts = ["Where is my ORDER??", "refund refund refund", "", "ünïcödé text 🙂", "hi hi there there"]
    for kind, vectorizer in component.vectorizers.items():
        expected = vectorizer.transform(texts).toarray()
        np.testing.assert_allclose(component._tfidf(kind, texts).toarray(), expected, rtol=1e-12, atol=1e-12)
