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


def featurized(component_messages):
    from rasa_plugins.sentence_featurizer import SentenceEmbeddingFeaturizer

    return SentenceEmbeddingFeaturizer.create({}, None, None, context()).process(component_messages)


def test_with_the_sentence_embedding_it_understands_paraphrases_it_never_saw(storage):
    from rasa_plugins.sentence_featurizer import SentenceEmbeddingFeaturizer, sentence_embedding

    data = training_data()
    SentenceEmbeddingFeaturizer.create({}, storage, Resource("emb"), context()).process_training_data(data)
    assert all(
        sentence_embedding(m) is not None and sentence_embedding(m).shape == (384,) for m in data.training_examples
    )
    resource = Resource("clf")
    plain = LinearIntentClassifier.create({}, storage, Resource("plain"), context())
    plain.train(training_data())
    with_embedding = LinearIntentClassifier.create({}, storage, resource, context())
    with_embedding.train(data)
    assert (plain.embedding_weight, with_embedding.embedding_weight) == (0.0, 1.5)
    # No word in common with the training examples: only the embedding can tell.
    message = featurized([Message(data={"text": "could I chat with somebody from your staff"})])[0]
    with_embedding.process([message])
    assert message.get("intent")["name"] == "request_human"
    # Loaded from storage it predicts the same, with or without the featurizer's embeddings given.
    loaded = LinearIntentClassifier.load({}, storage, resource, context())
    texts = ["could I chat with somebody from your staff", "hello"]
    given = np.stack([sentence_embedding(m) for m in featurized([Message(data={"text": t}) for t in texts])])
    np.testing.assert_allclose(loaded.predict_proba(texts), with_embedding.predict_proba(texts, given), atol=1e-5)


def test_training_twice_on_the_same_data_gives_the_same_model_and_answers(storage):
    from rasa_plugins.sentence_featurizer import SentenceEmbeddingFeaturizer

    models = []
    for name in ("first", "second"):
        data = training_data()
        SentenceEmbeddingFeaturizer.create({}, storage, Resource("emb"), context()).process_training_data(data)
        component = LinearIntentClassifier.create({}, storage, Resource(name), context())
        component.train(data)
        models.append(component)
    np.testing.assert_array_equal(models[0].coef, models[1].coef)
    answers = [parse(m, "has my parcel left yet").get("response_selector")["faq"]["response"] for m in models]
    assert answers[0] == answers[1] and answers[0]["intent_response_key"] == "faq/order_status"
    assert answers[0]["utter_action"] == "utter_faq/order_status"
