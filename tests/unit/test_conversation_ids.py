"""Conversation ids bound to the customer they were issued to."""

import pytest

from common import conversation_ids as ids

SECRET = "s" * 43


def test_an_issued_id_belongs_only_to_its_customer():
    vip = ids.issue("demo-vip", SECRET)
    assert ids.is_bound(vip)
    assert ids.belongs_to(vip, "demo-vip", SECRET)
    assert not ids.belongs_to(vip, "demo-free", SECRET)
    assert not ids.belongs_to(vip, None, SECRET)
    assert not ids.belongs_to(vip, "demo-vip", "another-secret")
    assert ids.issue("demo-vip", SECRET) != vip  # random, never reused


@pytest.mark.parametrize(
    "subject, conversation, allowed",
    [
        ("demo-vip", "mine", True),
        ("demo-vip", "theirs", False),
        ("demo-vip", "anonymous", False),
        ("demo-vip", "unbound", False),  # a signed-in customer always uses an issued id
        (None, "anonymous", True),
        (None, "unbound", True),  # server-side integrations and tests over REST
        (None, "theirs", False),  # no token, no access to a customer's conversation
        (None, "tampered", False),
    ],
)
def test_who_may_use_which_conversation(subject, conversation, allowed):
    examples = {
        "mine": ids.issue("demo-vip", SECRET),
        "theirs": ids.issue("demo-free", SECRET),
        "anonymous": ids.issue(None, SECRET),
        "unbound": "integration-test-17",
    }
    anonymous_id = ids.issue(None, SECRET)
    # A real random part with the anonymous signature of another id.
    examples["tampered"] = ids.issue("demo-free", SECRET)[:33] + anonymous_id[33:]
    assert ids.may_use(examples[conversation], subject, SECRET) is allowed


@pytest.mark.parametrize("value", [None, 42, "", ".", "a" * 32 + ".", "abc.def"])
def test_malformed_ids_are_not_bound(value):
    assert not ids.is_bound(value)
    assert not ids.belongs_to(value, None, SECRET)
