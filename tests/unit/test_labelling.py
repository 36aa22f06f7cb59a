"""Labelling writes into the project's YAML files, keeping them as they were otherwise."""

from pathlib import Path

import pytest
import yaml

from tests.support.database import migrated_database
from training.labels import FAQ, INTENT, NEW_FAQ, LabelError, Labeller, heldout_share, insert_examples
from training.project import OUT_OF_SCOPE, normalize
from training.store import ReviewStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def labeller(project, tmp_path) -> Labeller:
    store = ReviewStore(migrated_database(tmp_path / "reviews.db"))
    return Labeller(project, store, heldout_share_of_batch=0.25)


def test_insert_keeps_everything_else():
    text = (
        'version: "3.1"\n# a comment\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n\n'
        "- intent: bye\n  examples: |\n    - bye\n"
    )
    out = insert_examples(text, "greet", ["hiya there"])
    assert out == text.replace("    - hello\n", "    - hello\n    - hiya there\n")
    assert insert_examples(text, "thanks", ["cheers"]).endswith("- intent: thanks\n  examples: |\n    - cheers\n")


def test_labelled_batch_goes_to_training_and_a_share_to_the_held_out_set(project, labeller):
    before = project.faq_nlu.read_text()
    texts = [
        "is the parcel going to come before xmas",
        "will it come before christmas eve",
        "can you get it to me before the 24th",
        "christmas delivery guaranteed?",
    ]
    result = labeller.label(texts, FAQ, "delivery_times", trainer="tara")
    assert len(result.held_out) == 1 and len(result.trained) == 3
    assert result.held_out == [t for t in texts if normalize(t) in heldout_share([normalize(x) for x in texts], 0.25)]
    after = project.faq_nlu.read_text()
    assert after.startswith(before[:200]) and "# Help-centre questions" in after  # comments kept
    assert set(result.trained) <= set(project.training_examples()["faq/delivery_times"])
    assert result.held_out[0] in project.heldout_examples()["faq/delivery_times"]
    assert result.held_out[0] not in project.training_examples()["faq/delivery_times"]  # never trained on
    again = labeller.label(texts, FAQ, "delivery_times")
    assert again.trained == [] and len(again.skipped) == 4  # no duplicates
    assert "already in the data" in again.skipped[0]["reason"]


def test_new_topic_with_answer_and_out_of_scope(project, labeller):
    result = labeller.label(
        ["do you gift wrap", "can you wrap it as a present"],
        NEW_FAQ,
        "gift_wrapping",
        answer="Yes: choose gift wrapping at checkout (EUR 3.50 per order).",
    )
    assert "gift_wrapping" in project.faq_topics() and result.trained
    answers = yaml.safe_load(project.faq_answers.read_text())["responses"]
    assert answers["utter_faq/gift_wrapping"][0]["text"].startswith("Yes: choose gift wrapping")
    labeller.label(["what's the best pizza in rome"], OUT_OF_SCOPE)
    assert "what's the best pizza in rome" in project.training_examples()[
        OUT_OF_SCOPE
    ] + project.heldout_examples().get(OUT_OF_SCOPE, [])


@pytest.mark.parametrize(
    "texts, kind, name, answer, message",
    [
        (["hi"], INTENT, "no_such_intent", None, "Unknown intent"),
        (["hi"], INTENT, "nlu_fallback", None, "Unknown intent"),
        (["hi"], FAQ, "no_such_topic", None, "Unknown FAQ topic"),
        (["x y"], NEW_FAQ, "Bad Name", "An answer here.", "lower-case"),
        (["x y"], NEW_FAQ, "delivery_times", "An answer here.", "exists already"),
        (["x y"], NEW_FAQ, "brand_new", None, "needs its answer"),
        (["see [here](link)"], INTENT, "greet", None, "entity markup"),
        (["   "], INTENT, "greet", None, "empty"),
        ([], INTENT, "greet", None, "at least one"),
        (["hi"], "rename", None, None, "kind must be"),
    ],
)
def test_refusals_say_why_and_change_nothing(project, labeller, texts, kind, name, answer, message):
    before = {p: p.read_text() for p in project.nlu_files()}
    with pytest.raises(LabelError, match=message):
        labeller.label(texts, kind, name, answer)
    assert {p: p.read_text() for p in project.nlu_files()} == before


def test_batches_labelled_at_the_same_time_are_all_kept(project, labeller):
    # The trainers' API runs requests in a thread pool: two trainers may label at once.
    from concurrent.futures import ThreadPoolExecutor

    batches = [
        [f"where can I park my {thing} number {n}" for n in range(4)] for thing in ("bike", "car", "van", "boat")
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda texts: labeller.label(texts, OUT_OF_SCOPE), batches))
    kept = set(project.training_examples()[OUT_OF_SCOPE]) | set(project.heldout_examples().get(OUT_OF_SCOPE, []))
    for texts, result in zip(batches, results):
        assert set(texts) <= kept, result.as_json()
