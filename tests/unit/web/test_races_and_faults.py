"""What the probe found in the agents' API: a handoff that changes while Rasa is being called (another
tab, another process, an expiring lease) must never leave the customer messaged by a request that then
fails, and bad cursors are a 400, not a 500."""

from __future__ import annotations

import pytest

from escalation.queue.handoffs import ClaimConflict


def meanwhile(service, method: str, change) -> None:
    """Makes `change()` happen while the fake Rasa handles `method`, as another process's request would."""
    original = getattr(service.rasa, method)

    def racing(*args, **kwargs):
        try:
            change()
        except ClaimConflict:
            pass  # the other request lost: the handoff had already changed
        return original(*args, **kwargs)

    setattr(service.rasa, method, racing)


def transferred_elsewhere(service, handoff_id: str):
    return lambda: service.services.queue.transfer(handoff_id, "alice", "retention", service.clock())


def test_a_send_that_fails_never_reached_the_customer(service):
    handoff = service.handoff()
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    meanwhile(service, "say_as_agent", transferred_elsewhere(service, handoff.id))
    before = len(service.rasa.calls_named("say_as_agent"))
    sent = service.api("POST", f"/api/handoffs/{handoff.id}/messages", json={"text": "one moment"})
    delivered = len(service.rasa.calls_named("say_as_agent")) - before
    assert sent.status < 500
    assert (sent.status == 201) == (delivered == 1)  # an error answer means nothing was sent


def test_resolve_and_a_concurrent_transfer_leave_one_consistent_outcome(service):
    handoff = service.handoff()
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    meanwhile(service, "hand_back_asking_for_csat", transferred_elsewhere(service, handoff.id))
    resolved = service.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    handed_back = bool(service.rasa.calls_named("hand_back_asking_for_csat"))
    final = service.services.queue.get(handoff.id)
    assert resolved.status < 500
    # The bot has the conversation back exactly when the handoff is closed.
    assert handed_back == (final.status == "resolved") == (resolved.status == 200)


def test_resolve_when_rasa_fails_keeps_the_handoff_with_its_agent(service):
    handoff = service.handoff()
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    service.rasa.down = True
    failed = service.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    assert failed.status == 502
    kept = service.services.queue.get(handoff.id)
    assert kept.status == "assigned" and kept.agent_id == "alice"
    assert service.services.queue.open_for(handoff.conversation_id).id == handoff.id  # still the open one
    service.rasa.down = False
    assert service.api("POST", f"/api/handoffs/{handoff.id}/resolve").status == 200


@pytest.mark.parametrize(
    "query",
    ["after=9223372036854775808", "after=-1", "after=99999999999999999999999", "wait=nan"],
)
def test_out_of_range_cursors_are_a_400(service, query):
    handoff = service.handoff()
    response = service.api("GET", f"/api/handoffs/{handoff.id}/messages?{query}")
    assert response.status == 400 and "after" in response.json["error"]


def test_the_largest_cursor_is_accepted(service):
    handoff = service.handoff()
    response = service.api("GET", f"/api/handoffs/{handoff.id}/messages?after=9223372036854775807")
    assert response.status == 200 and response.json["messages"] == []


def test_a_hand_back_that_resumed_the_bot_is_a_resolve_even_if_the_rating_question_failed(service):
    from common.rasa_api import RatingNotAsked

    handoff = service.handoff()
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")

    def resumed_then_failed(conversation_id, handoff_id):
        raise RatingNotAsked("the rating question could not be sent (test)")

    service.rasa.hand_back_asking_for_csat = resumed_then_failed
    resolved = service.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    assert resolved.status == 200 and service.services.queue.get(handoff.id).status == "resolved"


@pytest.mark.parametrize(
    "body",
    [
        b'{"agent": "alice", "password": "\\ud800"}',  # a lone surrogate: valid JSON, not encodable text
        b'{"agent": "\\ud800", "password": "x"}',
        b'{"agent": "alice\\udfff", "password": "\\ud800\\ud800"}',
    ],
)
def test_sign_in_with_text_that_cannot_be_encoded_is_a_401(service, body):
    answer = service.client.request("POST", "/api/sign-in", body=body, headers={"Content-Type": "application/json"})
    assert answer.status == 401, answer.body
