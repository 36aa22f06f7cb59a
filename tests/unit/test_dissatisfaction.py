"""The dissatisfaction detector: the pure model (table-driven), the committed model file, the detector on
messages written for this test (none is in the training data), and `make -s score-messages`."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from escalation.core.dissatisfaction import DissatisfactionModel, updated_with_labels
from escalation.detector import MODEL_FILE, PRECISION_FILE, assess, labelled_messages, shared_model, updated_model
from tools.score_messages import score_lines
from training.dissatisfaction import DISSATISFIED_EMOTIONS, best_threshold, data_digest, labelled_comments


def tiny(weights, bias=0.0, threshold=0.5):
    return DissatisfactionModel.from_mapping({"weights": weights, "bias": bias, "threshold": threshold})


@pytest.mark.parametrize(
    "weights, bias, embedding, vader, expected",
    [
        ([0, 0, 0], 0.0, [1, 1], 0.0, 0.5),
        ([1, 0, 0], 0.0, [2, 5], 0.0, 1 / (1 + math.exp(-2))),
        ([0, 0, -1], 0.0, [0, 0], -3.0, 1 / (1 + math.exp(-3))),  # a negative VADER score pushes it up
        ([0, 0, 0], -800.0, [0, 0], 0.0, 0.0),  # no overflow far out
        ([0, 0, 0], 800.0, [0, 0], 0.0, 1.0),
    ],
)
def test_probability(weights, bias, embedding, vader, expected):
    assert tiny(weights, bias).probability(embedding, vader) == pytest.approx(expected)


@pytest.mark.parametrize(
    "mapping",
    [{"weights": [1, 2, 3], "bias": 0, "threshold": 1.5}, {"weights": [1], "bias": 0, "threshold": 0.5}],
)
def test_a_broken_model_is_refused(mapping):
    with pytest.raises(ValueError):
        DissatisfactionModel.from_mapping(mapping)


def test_a_wrong_embedding_size_is_refused():
    with pytest.raises(ValueError, match="2 numbers"):
        tiny([0, 0, 0]).probability([1, 2, 3], 0.0)


def test_the_round_trip_keeps_the_model():
    model = tiny([0.1234567, -2, 3], 0.5, 0.3)
    again = DissatisfactionModel.from_mapping(model.as_mapping())
    assert again.threshold == 0.3 and again.weights[1:] == (-2.0, 3.0)


def test_the_threshold_maximises_f1_on_the_validation_labels():
    import numpy as np

    labels = np.array([1, 1, 0, 0, 1, 0])
    probabilities = np.array([0.9, 0.6, 0.55, 0.1, 0.7, 0.2])
    threshold, scores = best_threshold(labels, probabilities)
    assert 0.55 < threshold <= 0.6 and scores["f1"] == 1.0


def test_the_committed_model_was_trained_on_the_committed_data():
    about = shared_model().about
    assert about["data_sha256"] == data_digest(), "training/data changed: run `make dissatisfaction-model`"
    assert about["dissatisfied_emotions"] == list(DISSATISFIED_EMOTIONS)
    assert shared_model().dimensions == 384
    assert json.loads(MODEL_FILE.read_text())["threshold"] == shared_model().threshold


def test_the_emotion_mapping():
    texts, labels = labelled_comments("dev")
    assert len(texts) == len(labels) == 5426 and 0.1 < labels.mean() < 0.25


# Written for this test (not in GoEmotions or any benchmark set).
ANGRY = ["this is the worst customer service I have ever had", "you are useless, I am furious about this"]
CALM_COMPLAINTS = [
    "my order hasn't arrived after three weeks and nobody answers my emails",
    "I was charged twice and still haven't got my money back",
]
NOT_COMPLAINTS = [
    "how long does delivery to Belgium take?",
    "thanks, that solved it, have a nice day",
    "can I change the colour of the sofa I ordered?",
]
COMPLAINTS = ANGRY + CALM_COMPLAINTS


def test_the_detector_flags_anger_and_not_questions_or_thanks():
    angry, others = assess(ANGRY), assess(NOT_COMPLAINTS)
    assert all(a.dissatisfied for a in angry) and not any(a.dissatisfied for a in others)
    assert all(0 <= a.score <= 1 for a in angry + others)


def test_complaints_score_higher_than_questions_on_average():
    # Calm complaints are the model's weak spot (docs/measurements.md): they are not all flagged, but as
    # a group they must still score above questions and thanks, alone and combined.
    complaints, others = assess(COMPLAINTS), assess(NOT_COMPLAINTS)

    def mean(values):
        return sum(values) / len(values)

    assert mean([a.model_probability for a in complaints]) > 2 * mean([a.model_probability for a in others])
    assert mean([a.score for a in complaints]) > mean([a.score for a in others])


@pytest.mark.parametrize(
    "lexicon, probability, expected",
    [
        (0.5, 0.1, 0.5),  # the model is not sure: the lexicon's score stands
        (-0.8, 0.1, -0.8),
        (0.0, 0.25, -0.25),  # at the model's threshold: the lexicon's cut for "dissatisfied"
        (0.3, 1.0, -1.0),  # certain: the bottom of the scale
        (-0.9, 0.625, -0.9),  # the more negative of the two
        (0.0, 0.625, -0.625),
    ],
)
def test_combined_sentiment(lexicon, probability, expected):
    from escalation.core.dissatisfaction import combined_sentiment, dissatisfaction_score

    combined = combined_sentiment(lexicon, probability, threshold=0.25)
    assert combined == pytest.approx(expected)
    assert dissatisfaction_score(combined) == pytest.approx((1 - expected) / 2)


def test_what_either_detector_calls_dissatisfied_is_dissatisfied():
    cue_only = assess(["where is my refund, three weeks now!!"])[0]  # the model alone misses it
    assert cue_only.model_probability < shared_model().threshold and cue_only.cues
    assert cue_only.dissatisfied and cue_only.score >= 0.625


def test_score_messages_prints_one_object_per_line_in_order():
    out = io.StringIO()
    count = score_lines(io.StringIO("\n".join(COMPLAINTS + NOT_COMPLAINTS + [""]) + "\n"), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(rows) == len(COMPLAINTS) + len(NOT_COMPLAINTS) + 1
    assert [r["text"] for r in rows] == COMPLAINTS + NOT_COMPLAINTS + [""]
    assert set(rows[0]) == {"text", "score", "dissatisfied"} and isinstance(rows[0]["dissatisfied"], bool)


def test_the_featurizers_embeddings_give_the_same_assessment():
    from common.sentence_encoder import shared_encoder

    given = shared_encoder().encode(COMPLAINTS)
    assert assess(COMPLAINTS, given) == assess(COMPLAINTS)


# --- adding trainers' labels (escalation/core/dissatisfaction.py: updated_with_labels) ------------------

ONE_DIMENSION = tiny([0.0, 0.0], bias=0.0, threshold=0.5)  # embedding of 1 number, then VADER
PRECISION = np.eye(3)  # (weight, VADER weight, bias)


def probability_after(rows, labels, weight, precision=PRECISION):
    model = updated_with_labels(ONE_DIMENSION, precision, np.array(rows, dtype=float), labels, weight, 1.0)
    return model, model.probability([1.0], 0.0)


@pytest.mark.parametrize(
    "rows, labels, direction",
    [
        ([[1.0, 0.0]] * 5, [1] * 5, +1),  # messages like this one, marked dissatisfied: it rises
        ([[1.0, 0.0]] * 5, [0] * 5, -1),  # marked not dissatisfied: it falls
        ([[1.0, 0.0], [1.0, 0.0]], [1, 0], 0),  # one each way: no side wins
    ],
)
def test_labels_move_the_model_their_way(rows, labels, direction):
    _, after = probability_after(rows, labels, 10.0)
    assert (after > 0.5 + 1e-6) - (after < 0.5 - 1e-6) == direction


def test_more_weight_or_a_weaker_prior_moves_it_further_and_the_threshold_stays():
    rows, labels = [[1.0, 0.0]] * 3, [1] * 3
    _, light = probability_after(rows, labels, 1.0)
    _, heavy = probability_after(rows, labels, 10.0)
    _, loose = probability_after(rows, labels, 1.0, precision=np.eye(3) * 0.1)
    assert 0.5 < light < heavy and light < loose
    model, _ = probability_after(rows, labels, 10.0)
    assert model.threshold == ONE_DIMENSION.threshold and model.about["updated_with"]["labels"] == 3


def test_no_labels_is_the_same_model_and_updates_are_deterministic():
    assert updated_with_labels(ONE_DIMENSION, PRECISION, np.zeros((0, 2)), [], 10.0, 1.0) == ONE_DIMENSION
    first, _ = probability_after([[1.0, -0.5], [0.2, 0.3]], [1, 0], 10.0)
    second, _ = probability_after([[1.0, -0.5], [0.2, 0.3]], [1, 0], 10.0)
    assert first.weights == second.weights and first.bias == second.bias


def test_a_precision_matrix_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="3x3"):
        updated_with_labels(ONE_DIMENSION, np.eye(2), np.array([[1.0, 0.0]]), [1], 10.0, 1.0)


def test_the_committed_precision_matrix_fits_the_committed_model():
    precision = np.load(PRECISION_FILE)
    model = shared_model()
    assert precision.shape == (len(model.weights) + 1,) * 2
    assert np.allclose(precision, precision.T, atol=1e-3)
    assert np.all(np.linalg.eigvalsh(precision.astype(np.float64)) > 0)  # a proper prior: positive definite


def test_labelled_messages_from_a_file(tmp_path):
    path = tmp_path / "labels.yml"
    assert labelled_messages(path) == ([], [])  # no file yet: no labels
    path.write_text('# trainers\ndissatisfied:\n- "late again"\nnot_dissatisfied:\n- "thanks"\n- "ok"\n')
    assert labelled_messages(path) == (["late again", "thanks", "ok"], [1, 0, 0])
    path.write_text("- just a list\n")
    with pytest.raises(ValueError, match="dissatisfied"):
        labelled_messages(path)


def test_trainers_labels_raise_the_score_of_what_they_marked():
    complaint = "the tracking page has said processing for ten days"
    before = assess([complaint])[0].model_probability
    model = updated_model([complaint, "the tracking page has not changed in a week"], [1, 1], 10.0)
    assert assess([complaint], model=model)[0].model_probability > before


def test_score_messages_can_use_the_detector_a_trained_model_carries(tmp_path):
    import tarfile

    from tools.score_messages import detector_in_model

    learned = DissatisfactionModel(shared_model().weights, shared_model().bias + 8.0, 0.25, {})
    member = tmp_path / "dissatisfaction_detector.json"
    member.write_text(json.dumps(learned.as_mapping()))
    model = tmp_path / "model.tar.gz"
    with tarfile.open(model, "w:gz") as archive:
        archive.add(
            member, "components/train_rasa_plugins.escalation.SentimentAnnotator2/dissatisfaction_detector.json"
        )
    assert detector_in_model(model).bias == pytest.approx(learned.bias)
    out = io.StringIO()
    score_lines(["my order never came"], out, detector_in_model(model))
    assert json.loads(out.getvalue())["score"] > 0.9  # the model's detector, not the committed one (0.65)

    empty = tmp_path / "old.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(SystemExit, match="no dissatisfaction detector"):
        detector_in_model(empty)
