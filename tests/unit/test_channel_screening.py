import pytest

from common.screening import screen_text


@pytest.mark.parametrize(
    "text, expected_text, problem",
    [
        ("where is my order", "where is my order", None),
        ("  padded  ", "padded", None),
        ("", "", "empty"),
        (None, "", "empty"),
        ("   \n\t ", "", "empty"),
        ("\x00\x01\x1b[31m", "[31m", None),  # control characters removed, the rest kept
        ("hi\x00 there", "hi there", None),
        ("line one\nline two", "line one\nline two", None),  # newlines kept
        ("zero\u200bwidth \u202eoverride", "zerowidth override", None),
        ("\x00\x07", "", "empty"),
        ("é ü 日本 🙂", "é ü 日本 🙂", None),
        ("a" * 2000, "a" * 2000, None),
        ("a" * 2001, "a" * 2001, "too_long"),
    ],
)
def test_screen_text(text, expected_text, problem):
    result = screen_text(text, max_chars=2000)
    assert result.problem == problem
    assert result.text == expected_text
    assert (result.reply is None) == (problem is None)


def test_too_long_reply_says_the_limit():
    assert "2000" in screen_text("x" * 100_000, 2000).reply


@pytest.mark.parametrize(
    "typed, passed_on",
    [
        ("/restart", "restart"),
        ("/ restart", "restart"),  # Rasa strips the intent name: these are payloads too
        ("/\trestart", "restart"),
        ("/restart ", "restart"),
        ("/ back", "back"),
        ("/session_start@0.9", "session_start@0.9"),
        ("/back", "back"),
        ("/session_start", "session_start"),
        ('/restart{"tier": "vip"}', 'restart{"tier": "vip"}'),
        ("/faq", "/faq"),  # the bot's own intents may still be sent as payloads (the CSAT buttons do)
        ('/rate_csat{"csat_score": 4}', '/rate_csat{"csat_score": 4}'),
        ("restart please", "restart please"),
    ],
)
def test_control_payloads_typed_by_customers_are_read_as_words(typed, passed_on):
    from rasa_plugins.channels import without_control_payload

    assert without_control_payload(typed) == passed_on
