"""The held-out test sets stay held out: no test message may appear in the training data."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def examples(path: Path) -> dict:
    found = {}
    for block in yaml.safe_load(path.read_text()).get("nlu", []):
        for line in block.get("examples", "").splitlines():
            text = line.strip()[2:].strip().lower()
            if text:
                found[text] = block["intent"]
    return found


def test_no_held_out_message_is_in_the_training_data():
    training = {}
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        training.update(examples(path))
    for held_out in (ROOT / "tests" / "nlu").glob("*.yml"):
        leaked = sorted(set(examples(held_out)) & set(training))
        assert not leaked, f"{held_out.name} messages found in training data: {leaked}"


def test_every_faq_topic_has_an_answer_and_enough_examples():
    topics = {}
    for intent in examples(ROOT / "data" / "nlu" / "faq.yml").values():
        topics[intent] = topics.get(intent, 0) + 1
    answers = yaml.safe_load((ROOT / "data" / "faq_answers.yml").read_text())["responses"]
    assert len(topics) >= 30
    for topic, count in topics.items():
        assert count >= 12, topic
        assert f"utter_{topic}" in answers, topic
