"""The metrics' definitions (analytics/metrics.py, docs/analytics.md), table by table."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from analytics.metrics import (
    Fact,
    channel_of,
    drill_down,
    flat_row,
    percentile,
    rate,
    reopened_flags,
    satisfaction_of,
    summarize,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
DAY = date(2026, 11, 23)


def fact(n: int = 0, **values) -> Fact:
    defaults = dict(
        conversation_id=f"c{n}",
        started_at=T0 + timedelta(minutes=n),
        day=DAY.isoformat(),
        hour=10,
        tier="standard",
        journey_stage="active",
        satisfaction="other",
        channel="bot_only",
        bot_took_part=True,
    )
    return Fact(**{**defaults, **values})


def handoff(n: int, **values) -> Fact:
    return fact(
        n, handoff_id=f"h{n}", channel=values.pop("channel", "chat"), queue=values.pop("queue", "general"), **values
    )


@pytest.mark.parametrize(
    "values, share, expected",
    [
        ([], 0.5, None),
        ([7.0], 0.5, 7.0),
        ([7.0], 0.9, 7.0),
        ([1, 2, 3], 0.5, 2),
        ([4, 1, 3, 2], 0.5, 2.5),  # even: the mean of the middle two
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9, 91.0),  # linear between ranks 9 and 10
        ([1, 100], 0.9, 90.1),
    ],
)
def test_percentiles_interpolate_between_closest_ranks(values, share, expected):
    assert (
        percentile(values, share) == pytest.approx(expected)
        if expected is not None
        else percentile(values, share) is None
    )


@pytest.mark.parametrize("part, whole, expected", [(0, 0, None), (0, 4, 0.0), (3, 4, 0.75), (5, 5, 1.0)])
def test_a_rate_with_nothing_to_divide_by_is_none(part, whole, expected):
    assert rate(part, whole) == expected


@pytest.mark.parametrize(
    "nps, last_csat, expected",
    [
        (None, None, "other"),
        (6, None, "detractor"),  # detractor: NPS at most 6
        (7, None, "other"),
        (None, 2, "low_csat"),  # low: last CSAT at most 2
        (None, 3, "other"),
        (3, 1, "detractor"),  # both: a detractor first
        (9, 5, "other"),
    ],
)
def test_satisfaction_history(nps, last_csat, expected):
    assert satisfaction_of(nps, last_csat, detractor_nps_at_most=6, low_csat_at_most=2) == expected


@pytest.mark.parametrize(
    "handoff_channel, expected",
    [(None, "bot_only"), ("live_chat", "chat"), ("phone_callback", "callback"), ("ticket", "ticket")],
)
def test_channels(handoff_channel, expected):
    assert channel_of(handoff_channel) == expected


H = timedelta(hours=1)


@pytest.mark.parametrize(
    "conversations, expected",
    [
        ([("a", T0, T0 + H)], {"a": False}),
        ([("a", T0, T0 + H), ("b", T0 + 20 * H, T0 + 21 * H)], {"a": True, "b": False}),  # back within 24 h
        ([("a", T0, T0 + H), ("b", T0 + 25 * H + timedelta(seconds=1), T0 + 26 * H)], {"a": False, "b": False}),
        ([("a", T0, T0 + H), ("b", T0 + 25 * H, T0 + 26 * H)], {"a": True, "b": False}),  # exactly 24 h counts
        ([("b", T0 + 2 * H, T0 + 3 * H), ("a", T0, T0 + H)], {"a": True, "b": False}),  # any order
    ],
)
def test_the_24_hour_reopen_rule(conversations, expected):
    assert reopened_flags(conversations) == expected


@pytest.mark.parametrize(
    "facts, field, expected",
    [
        # containment: over the conversations the bot took part in; a handoff or a reopening is not contained
        ([fact(1), fact(2), handoff(3)], "containment_rate", round(2 / 3, 4)),
        ([fact(1), fact(2, reopened=True)], "containment_rate", 0.5),
        ([fact(1), fact(2, bot_took_part=False)], "containment_rate", 1.0),
        ([fact(1, bot_took_part=False)], "containment_rate", None),
        ([fact(1), handoff(2)], "contained", 1),
        ([fact(1), handoff(2), handoff(3)], "handoff_rate", round(2 / 3, 4)),
        # response times: handoffs with an agent's answer only
        (
            [handoff(1, first_response_s=60.0), handoff(2, first_response_s=120.0), handoff(3)],
            "first_response_p50_s",
            90.0,
        ),
        ([handoff(1, first_response_s=float(s)) for s in range(1, 11)], "first_response_p90_s", 9.1),
        ([handoff(1, resolution_s=600.0, resolution_business_s=0.0)], "resolution_p50_business_s", 0.0),
        ([fact(1)], "first_response_p50_s", None),
        # SLA: met over decided; undecided clocks do not count
        (
            [handoff(1, sla_first_response=True), handoff(2, sla_first_response=False), handoff(3)],
            "sla_attainment",
            {"first_response": 0.5, "next_response": None, "resolution": None},
        ),
        # abandonment and CSAT
        ([handoff(1, abandoned=True), handoff(2), handoff(3), handoff(4)], "abandonment_rate", 0.25),
        (
            [handoff(1, csat=5, resolved=True), handoff(2, csat=2, resolved=True), handoff(3, resolved=True)],
            "csat_positive_rate",
            0.5,
        ),
        ([handoff(1, csat=4, resolved=True), handoff(2, resolved=True)], "csat_response_rate", 0.5),
        ([handoff(1, csat=4, resolved=True)], "csat_responses", 1),
        ([handoff(1)], "csat_positive_rate", None),
        # NLU fallback rate: messages, not conversations
        ([fact(1, nlu_messages=3, nlu_fallbacks=1), fact(2, nlu_messages=1)], "fallback_rate", 0.25),
        ([fact(1)], "fallback_rate", None),
        # reasons: per code, the handoffs that carried it
        (
            [handoff(1, handoff_reasons=("asked_for_person", "segment")), handoff(2, handoff_reasons=("segment",))],
            "handoff_reasons",
            {"asked_for_person": 1, "segment": 2},
        ),
    ],
)
def test_the_summary_fields(facts, field, expected):
    total, groups = summarize(facts, "none", DAY, DAY)
    assert total[field] == expected and groups == []


def test_groups_show_every_known_key_in_order_and_add_up_to_the_total():
    facts = [handoff(1, tier="vip"), fact(2, tier="free"), fact(3, tier="free", day="2026-11-24", hour=23)]
    total, groups = summarize(facts, "tier", DAY, DAY + timedelta(days=1))
    assert [g["key"] for g in groups] == ["vip", "premium", "standard", "free", "anonymous"]
    assert [g["conversations"] for g in groups] == [1, 0, 0, 2, 0] and total["conversations"] == 3
    assert groups[1]["containment_rate"] is None  # no conversations: null, not 0
    _, days = summarize(facts, "day", DAY, DAY + timedelta(days=1))
    assert [(g["key"], g["conversations"]) for g in days] == [("2026-11-23", 2), ("2026-11-24", 1)]
    _, hours = summarize(facts, "hour", DAY, DAY)
    assert len(hours) == 24 and hours[23]["conversations"] == 1 and hours[10]["conversations"] == 2
    _, queues = summarize(facts, "queue", DAY, DAY)
    assert {g["key"]: g["conversations"] for g in queues} == {"general": 1, "none": 2}
    with pytest.raises(ValueError):
        summarize(facts, "colour", DAY, DAY)


@pytest.mark.parametrize(
    "metric, key, expected",
    [
        ("conversations", "total", ["c1", "c2", "c3", "c4"]),
        ("contained", "total", ["c1"]),
        ("handoffs", "vip", ["c2", "c3"]),
        ("abandoned", "total", ["c3"]),
        ("csat_responses", "total", ["c2", "c4"]),
        ("csat_positive", "total", ["c2"]),
        ("first_response_sla_missed", "total", ["c4"]),
        ("fallbacks", "total", ["c1"]),
        ("reason:asked_for_person", "vip", ["c2"]),
        ("reason:asked_for_person", "standard", ["c4"]),
        ("reason:negative_message", "standard", []),
    ],
)
def test_drill_down_lists_exactly_what_the_number_counts(metric, key, expected):
    facts = [
        fact(1, nlu_messages=2, nlu_fallbacks=1),
        handoff(2, tier="vip", csat=5, handoff_reasons=("asked_for_person",), sla_first_response=True),
        handoff(3, tier="vip", abandoned=True, handoff_reasons=("negative_message",)),
        handoff(4, csat=1, sla_first_response=False, handoff_reasons=("asked_for_person",)),
    ]
    assert [f.conversation_id for f in drill_down(facts, "tier", key, metric)] == expected
    total, groups = summarize(facts, "tier", DAY, DAY)
    number = {g["key"]: g for g in groups + [total]}[key]
    counted = {
        "conversations": number["conversations"],
        "contained": number["contained"],
        "handoffs": number["handoffs"],
        "abandoned": number["abandoned"],
        "csat_responses": number["csat_responses"],
    }
    if metric in counted:  # traceability: the list is as long as the number
        assert len(expected) == counted[metric]
    if metric.startswith("reason:"):
        assert len(expected) == number["handoff_reasons"].get(metric.split(":")[1], 0)


def test_a_csv_row_flattens_the_clocks_and_reasons():
    total, _ = summarize([handoff(1, handoff_reasons=("segment",), sla_first_response=True)], "none", DAY, DAY)
    row = flat_row(total, ["asked_for_person", "segment"])
    assert row["sla_attainment.first_response"] == 1.0 and row["reason:segment"] == 1
    assert row["reason:asked_for_person"] == 0 and "sla_attainment" not in row and row["key"] == "total"


@pytest.mark.parametrize(
    "value, written",
    [
        ("-2-3", "'-2-3"),
        ("@A1:A9", "'@A1:A9"),
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("conversation-1", "conversation-1"),
        (-3, -3),  # numbers are numbers
        (0.5, 0.5),
    ],
)
def test_csv_cells_never_run_as_spreadsheet_formulas(value, written):
    from analytics.reports import spreadsheet_safe

    assert spreadsheet_safe(value) == written
