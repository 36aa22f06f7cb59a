"""Trainers' dissatisfaction labels: written to the detector's training data, a share held out by hash,
never twice, the files restored when a write goes wrong; the inbox offers low-rated conversations'
messages until they are labelled."""

from pathlib import Path

import pytest

from escalation.detector import labelled_messages
from tests.support.database import migrated_database
from tests.unit.test_inbox import bot, conversation, user
from training.dissatisfaction_labels import DissatisfactionLabeller, labelled
from training.inbox import build_inbox
from training.labels import LabelError, heldout_share
from training.project import normalize
from training.store import ReviewStore

ROOT = Path(__file__).resolve().parents[2]
BATCH = [
    "my order still has not arrived after three weeks",
    "nobody has answered my emails about the refund",
    "I was charged twice for the same lamp",
    "the courier never came on the day you gave me",
]


@pytest.fixture
def store(tmp_path) -> ReviewStore:
    return ReviewStore.of_dissatisfaction(migrated_database(tmp_path / "reviews.db"))


@pytest.fixture
def labeller(project, store) -> DissatisfactionLabeller:
    return DissatisfactionLabeller(project, store, heldout_share_of_batch=0.25)


def test_a_batch_goes_to_the_training_data_and_a_share_by_hash_to_the_held_out_set(project, labeller, store):
    result = labeller.label(BATCH + ["  my order   still has not arrived after three weeks "], "dissatisfied", "tara")
    held = set(heldout_share([normalize(t) for t in BATCH], 0.25))
    assert {normalize(t) for t in result.held_out} == held and len(held) == 1
    assert set(result.trained) | set(result.held_out) == set(BATCH)
    assert result.skipped == [
        {"text": "my order still has not arrived after three weeks", "reason": "the same message twice in this batch"}
    ]
    assert labelled_messages(project.dissatisfaction_labels) == (result.trained, [1] * 3)
    assert labelled_messages(project.dissatisfaction_heldout) == (result.held_out, [1])
    assert {r.text for r in store.recent()} == set(BATCH) and {r.trainer for r in store.recent()} == {"tara"}

    later = labeller.label(["thanks, that solved it", BATCH[0]], "not_dissatisfied")
    where = labelled(project)[normalize(BATCH[0])][1]
    assert later.skipped[0]["reason"] == f"already labelled dissatisfied ({where})"
    texts, labels = labelled_messages(project.dissatisfaction_labels)
    kept = dict(zip(texts, labels))
    assert all(kept[t] == 1 for t in result.trained)  # the earlier labels stay as they were


def test_odd_texts_are_stored_exactly(project, labeller):
    odd = ['he said "no": #1 - {not} [yaml]', "émile: ça ne marche pas", "- starts like a list item"]
    result = labeller.label(odd, "dissatisfied")
    files = (project.dissatisfaction_labels, project.dissatisfaction_heldout)
    stored = [text for path in files for text in labelled_messages(path)[0]]
    assert sorted(stored) == sorted(result.trained + result.held_out) == sorted(odd)


@pytest.mark.parametrize(
    "texts, label, message",
    [
        (BATCH, "angry", "label must be one of"),
        ([], "dissatisfied", "at least one"),
        (["   "], "dissatisfied", "empty"),
        (["x" * 301], "dissatisfied", "longer than"),
        ([42], "dissatisfied", "string"),
    ],
)
def test_bad_labels_say_why(labeller, texts, label, message):
    with pytest.raises(LabelError, match=message):
        labeller.label(texts, label)


def test_an_unreadable_file_is_left_alone_and_the_error_says_what_to_do(project, labeller):
    project.dissatisfaction_labels.write_text("- a list, not the two lists\n")
    with pytest.raises(LabelError, match="fix it by hand"):
        labeller.label(BATCH, "dissatisfied")
    assert project.dissatisfaction_labels.read_text() == "- a list, not the two lists\n"


def test_a_failed_write_restores_both_files(project, labeller, monkeypatch):
    labeller.label(BATCH[:2], "dissatisfied")
    before = {p: p.read_text() for p in (project.dissatisfaction_labels, project.dissatisfaction_heldout)}

    def broken_render(*args):
        return "dissatisfied: [\n"  # not YAML

    monkeypatch.setattr("training.dissatisfaction_labels.render", broken_render)
    with pytest.raises(LabelError):
        labeller.label(BATCH[2:], "dissatisfied")
    assert {p: p.read_text() for p in before} == before


def test_messages_of_low_rated_conversations_stay_in_the_inbox_until_labelled():
    events = conversation(
        "r", user("the table you sent is the wrong colour", "faq", 0.9, "exchange"), bot("Exchanges..."), start=200
    )
    events[0][3]["parse_data"]["sentiment"] = {"dissatisfaction": 0.7, "dissatisfied": True}
    offered = build_inbox(events, 0.5, set(), set(), rated_low={"r": 1})
    assert offered[0].reasons == {"its conversation was rated 1/5": 1}
    assert offered[0].dissatisfaction == 0.7 and offered[0].called_dissatisfied == 1
    done = {normalize("the table you sent is the wrong colour")}
    assert build_inbox(events, 0.5, set(), set(), rated_low={"r": 1}, feeling_labelled=done) == []
