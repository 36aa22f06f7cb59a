"""The release gate's comparison of a candidate with the live model."""

import pytest

from training.release import Tolerance, compare, markdown

TOLERANCE = Tolerance(overall=0.10, per_label=0.10, min_label_examples=3)
LIVE = {"faq/shipping_cost": (4, 5), "faq/refund_status": (5, 5), "greet": (2, 2), "faq/returns_policy": (30, 30)}


@pytest.mark.parametrize(
    "changes, refused, detail",
    [
        ({}, [], None),  # the same: passes
        ({"faq/shipping_cost": (5, 5)}, [], None),  # better
        # Training is deterministic: no slack for noise; 10% of 5 messages rounds down to none.
        (
            {"faq/refund_status": (4, 5)},
            ["faq/refund_status"],
            "4 of 5 held-out messages right vs 5 live (lost 1; at most 0",
        ),
        (
            {"faq/shipping_cost": (1, 5)},
            ["faq/shipping_cost"],
            "1 of 5 held-out messages right vs 4 live (lost 3; at most 0",
        ),
        ({"faq/returns_policy": (27, 30)}, [], None),  # 10% of 30
        ({"faq/returns_policy": (26, 30)}, ["faq/returns_policy"], "lost 4; at most 3"),
        ({"greet": (0, 2)}, [], None),  # too few messages to count alone, and overall within 0.10
        (
            {"faq/returns_policy": (20, 30), "faq/refund_status": (2, 5)},
            ["overall", "faq/refund_status", "faq/returns_policy"],
            "below the live model's",
        ),
    ],
)
def test_refusals_name_what_got_worse(changes, refused, detail):
    result = compare({**LIVE, **changes}, LIVE, TOLERANCE)
    assert [reason.split(" ")[0].rstrip(":") for reason in result.refusals] == refused, result.refusals
    if detail:
        assert detail in " | ".join(result.refusals)


def test_first_release_has_nothing_to_compare_with():
    result = compare({"greet": (0, 4)}, None, TOLERANCE)
    assert result.refusals == [] and result.overall == (0.0, None)


def test_by_default_no_label_may_lose_a_message():
    from common.settings import DEFAULTS

    strict = Tolerance(overall=0.02, per_label=float(DEFAULTS["RELEASE_TOLERANCE_PER_LABEL"]), min_label_examples=3)
    assert compare({**LIVE, "faq/returns_policy": (29, 30)}, LIVE, strict).refusals
    assert not compare(dict(LIVE), LIVE, strict).refusals


def test_the_report_shows_the_detector_on_the_held_out_labels():
    report = {
        "started_at": "2026-11-24T09:00:00+00:00",
        "candidate": "models/candidates/candidate-1.tar.gz",
        "passed": False,
        "refusals": ["dissatisfaction detector: dissatisfied: 2 of 4 held-out messages right vs 3 live"],
        "tolerance": {"overall": 0.02, "per_label": 0.0, "min_label_examples": 3},
        "dissatisfaction": {
            "messages": 6,
            "candidate": 0.5,
            "live": 0.67,
            "per_label": {
                "dissatisfied": {"candidate": 0.5, "live": 0.75, "messages": 4},
                "not_dissatisfied": {"candidate": 0.5, "live": 0.5, "messages": 2},
            },
        },
    }
    text = markdown(report)
    assert "## Dissatisfaction detector on the held-out labels" in text
    assert "| dissatisfied | 4 | 0.50 | 0.75 |" in text and "refused" in text.splitlines()[0]
