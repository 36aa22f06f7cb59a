"""Message sentiment and the conversation frustration signal, table-driven."""

import pytest

from escalation.core.sentiment import Turn, conversation_frustration, score_message


@pytest.mark.parametrize(
    "text, label, dissatisfied, cue",
    [
        ("where is my order", "neutral", False, None),
        ("great, thanks so much", "positive", False, None),
        ("thanks!!", "positive", False, None),  # enthusiasm is not anger
        ("my card was declined, what should I do", "neutral", False, None),
        ("still not arrived", "negative", True, "still waiting or broken"),
        ("this is the third time I ask", "negative", True, "repeated asking"),
        ("cancel my membership, I'm switching to another store", "negative", True, "threat to leave"),
        # VADER reads "joke" as positive; the cue pulls it to negative but not to dissatisfied (a known
        # miss, listed in bench/reports/sentiment.md; weights are not fitted to single examples).
        ("this is a joke", "negative", False, "profanity or insult"),
        ("your support is useless", "negative", True, "profanity or insult"),
        ("WHERE IS MY PARCEL", "negative", True, "all caps"),
        ("where is my parcel???", "negative", False, "repeated !/?"),
        ("I am very angry", "negative", True, None),  # plain VADER already catches this
    ],
)
def test_message_sentiment(text, label, dissatisfied, cue):
    result = score_message(text)
    assert result.label == label
    assert result.dissatisfied is dissatisfied
    if cue:
        assert cue in result.cues
    else:
        assert result.cues == ()
    assert -1.0 <= result.compound <= 1.0


def test_adjustments_only_lower_the_score():
    for text in ["still not arrived but thanks", "NICE WORK TEAM", "nobody told me, fine"]:
        result = score_message(text)
        assert result.compound <= result.vader_compound


def turn(text, compound=0.0, intent="faq", fallback=False):
    return Turn(text, compound, intent, fallback)


@pytest.mark.parametrize(
    "turns, min_level, max_level, reason",
    [
        ([], 0.0, 0.0, None),
        ([turn("where is my order"), turn("thanks", 0.4)], 0.0, 0.0, None),
        (
            [turn("hi", 0.3), turn("x"), turn("still nothing", -0.6), turn("useless", -0.7)],
            0.6,
            1.0,
            "sentiment falling",
        ),
        (
            [turn("asdf", fallback=True, intent="nlu_fallback"), turn("qwer", fallback=True, intent="nlu_fallback")],
            0.3,
            1.0,
            "did not understand",
        ),
        ([turn("how do I return my lamp"), turn("how can I return the lamp")], 0.15, 1.0, "rephrased"),
        ([turn("talk to a person", intent="request_human")], 0.3, 1.0, "asked for a person"),
        ([turn("terrible", -0.8), turn("awful", -0.8)], 0.8, 1.0, "recent messages negative"),
    ],
)
def test_conversation_frustration(turns, min_level, max_level, reason):
    result = conversation_frustration(turns)
    assert min_level <= result.level <= max_level
    if reason:
        assert any(reason in r for r in result.reasons), result.reasons
    else:
        assert result.reasons == ()


def test_only_recent_turns_count_for_fallbacks():
    old = [turn("?", fallback=True, intent="nlu_fallback")] * 3
    calm = [turn(f"question {i}") for i in range(4)]
    assert conversation_frustration(old + calm).fallbacks == 0


def test_turns_start_after_the_latest_fresh_start():
    from escalation.core.sentiment import turns_from_events

    def user(text):
        return {"event": "user", "text": text, "parse_data": {"intent": {"name": "faq"}}}

    events = [
        user("old session"),
        {"event": "session_started"},
        user("this is useless"),
        {"event": "pause"},
        user("hello?"),
        {"event": "resume"},
        user("how much is shipping"),
    ]
    assert [t.text for t in turns_from_events(events)] == ["how much is shipping"]
    assert [t.text for t in turns_from_events(events[:4])] == ["this is useless"]


def test_an_faq_question_counts_by_its_topic():
    from escalation.core.sentiment import turns_from_events

    parse = {
        "intent": {"name": "faq"},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/payment_declined"}}},
        "sentiment": {"compound": 0.0},
    }
    events = [{"event": "user", "text": "card declined", "parse_data": parse}, {"event": "user", "text": "hi"}]
    assert [t.intent for t in turns_from_events(events)] == ["faq/payment_declined", None]
