"""The release gate's comparison of a candidate with the live model."""
import pytest

from training.release import Tolerance, compare

TOLERANCE = Tolerance(overall=0.10, per_label=0.10, min_label_examples=3)
LIVE = {"faq/shipping_cost": (4, 5), "faq/refund_status": (5, 5), "greet": (2, 2), "faq/returns_policy": (20, 20)}


@pytest.mark.parametrize("changes, refused, detail", [
    ({}, [], None),  # the same: passes
    ({"faq/shipping_cost": (5, 5)}, [], None),  # better
    ({"faq/refund_status": (4, 5)}, [], None),  # one message lost: retraining noise, allowed
    ({"faq/shipping_cost": (2, 5)}, ["faq/shipping_cost"], "2 of 5 held-out messages right vs 4 live (lost 2; at most 1"),
    ({"faq/returns_policy": (18, 20)}, [], None),  # 10% of 20
    ({"faq/returns_policy": (17, 20)}, ["faq/returns_policy"], "lost 3; at most 2"),
    ({"greet": (0, 2)}, [], None),  # too few messages to count alone, and overall within 0.10
    ({"faq/returns_policy": (14, 20), "faq/refund_status": (3, 5)},
     ["overall", "faq/refund_status", "faq/returns_policy"], "below the live model's"),
])
def test_refusals_name_what_got_worse(changes, refused, detail):
    result = compare({**LIVE, **changes}, LIVE, TOLERANCE)
    assert [reason.split(" ")[0].rstrip(":") for reason in result.refusals] == refused, result.refusals
    if detail:
        assert detail in " | ".join(result.refusals)


def test_first_release_has_nothing_to_compare_with():
    result = compare({"greet": (0, 4)}, None, TOLERANCE)
    assert result.refusals == [] and result.overall == (0.0, None)
