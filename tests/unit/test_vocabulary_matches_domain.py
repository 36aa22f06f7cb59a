"""Slot names and segment values have one source of truth; the Rasa domain must agree with it."""

from pathlib import Path

import yaml

from common.names import CSAT_SCORE_ENTITY, SEGMENT_SLOTS, JourneyStage, Slot, Tier

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "domain.yml").read_text())


def test_every_segment_slot_is_declared_and_filled_only_by_actions():
    slots = DOMAIN["slots"]
    assert set(SEGMENT_SLOTS) <= set(slots)
    for name in SEGMENT_SLOTS:
        assert slots[name]["mappings"] == [{"type": "custom"}], name  # never from customer text
        assert slots[name]["influence_conversation"] is False


def test_categorical_values_match_the_enums():
    assert DOMAIN["slots"]["tier"]["values"] == [t.value for t in Tier]
    assert DOMAIN["slots"]["journey_stage"]["values"] == [s.value for s in JourneyStage]


def test_every_slot_name_is_declared():
    names = {value for key, value in vars(Slot).items() if key.isupper()}
    assert names <= set(DOMAIN["slots"])
    assert CSAT_SCORE_ENTITY in DOMAIN["entities"]
