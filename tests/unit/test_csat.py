"""Reading a CSAT rating from a button or from what the customer typed."""

import pytest

from actions.csat import rating_from


@pytest.mark.parametrize(
    "text, entities, expected",
    [
        ('/rate_csat{"csat_score": 4}', [{"entity": "csat_score", "value": 4}], 4),
        ("", [{"entity": "csat_score", "value": "2"}], 2),
        ("", [{"entity": "csat_score", "value": 9}], None),  # outside the scale
        ("", [{"entity": "csat_score", "value": "lots"}], None),
        ("5", [], 5),
        ("I'd give it a 4", [], 4),
        ("five stars", [], 5),
        ("3/5", [], 3),  # "/5" is the scale
        ("4 out of 5", [], 4),
        ("5/5", [], 5),
        ("4 or 5", [], None),  # undecided: ask again
        ("it was fine", [], None),
        ("7", [], None),
        (None, [], None),
    ],
)
def test_rating_from(text, entities, expected):
    assert rating_from(text, entities) == expected
