"""Routing through the service's API, in-process (real SQLite queue, settable clock, Rasa stand-in):
presence, push assignment by presence, skills and capacity, declining, and what waiting customers
are told by the upkeep timer's round (`tend_waiting`)."""

from __future__ import annotations

import pytest

from escalation.queue.handoffs import AtCapacity
from escalation.web.app import assign_waiting_and_greet


def route(service) -> int:
    """One round of push routing, as the upkeep timer (or a presence change) runs it."""
    return service.client.loop.run_until_complete(assign_waiting_and_greet(service.services))


def tend(service) -> dict:
    services = service.services
    return services.router.tend_waiting(
        services.clock(),
        lambda conversation, text: services.rasa.append_events(conversation, [{"event": "bot", "text": text}], True),
        services.log.latest_customer_message,
        services.rasa.resume,
    )


def presence(service, person, status):
    return service.api("POST", "/api/presence", person=person, json={"status": status})


def test_presence_is_set_shown_and_lapses_without_a_heartbeat(service):
    assert service.api("GET", "/api/me").json["presence"] == "offline"  # until the console says otherwise
    answer = presence(service, "alice", "online")
    assert answer.status == 200
    assert answer.json == {"presence": "online", "capacity": 3, "open_conversations": 0, "heartbeat_seconds": 20}
    assert service.api("GET", "/api/me").json["presence"] == "online"
    service.clock.advance(seconds=61)  # the console closed: no heartbeat
    assert service.api("GET", "/api/me").json["presence"] == "offline"
    assert presence(service, "alice", "away").json["presence"] == "away"
    for bad in ({"status": "busy"}, {}, {"status": None}):
        assert presence(service, "alice", bad.get("status")).status == 400
    assert service.api("POST", "/api/presence", person="tara", json={"status": "online"}).status == 403
    presence(service, "bob", "online")
    assert service.api("POST", "/api/sign-out", person="bob").status == 204
    assert service.services.agents.presence("bob", service.clock(), 60) == "offline"  # signed out: no chats


def test_a_vip_goes_to_the_online_concierge_agent_and_bob_never_gets_concierge(service):
    presence(service, "alice", "away")
    presence(service, "bob", "online")
    vip = service.handoff(queue="concierge", priority=1, sla_seconds=120)
    route(service)
    assert service.services.queue.get(vip.id).status == "waiting"  # alice is away; bob does not serve concierge
    presence(service, "alice", "online")
    route(service)
    assigned = service.api("GET", f"/api/handoffs/{vip.id}").json
    assert (assigned["status"], assigned["agent_id"]) == ("assigned", "alice")
    greeting = service.rasa.calls_named("say_as_agent")[-1]
    assert greeting[1] == vip.conversation_id and greeting[2].startswith("Hi, this is Alice")
    log = assigned["routing_log"]
    assert log[-1]["event"] == "assigned" and log[-1]["agent"] == "alice"


def test_capacity_is_never_exceeded_the_least_loaded_agent_wins_and_a_concierge_slot_is_kept(service):
    assert service.services.rules.routing.reserved_slots == {"concierge": 1}  # the shipped rules
    service.services.agents.update("bob", known_queues=service.services.rules.queues, capacity=1)
    presence(service, "alice", "online")
    presence(service, "bob", "online")
    handoffs = [service.handoff(sla_seconds=600 + i) for i in range(6)]
    route(service)
    owners = [service.services.queue.get(h.id).agent_id for h in handoffs]
    # alice (capacity 3) serves concierge: one of her slots stays free for a VIP
    assert owners.count("alice") == 2 and owners.count("bob") == 1 and owners.count(None) == 3
    assert owners[:2] in (["alice", "bob"], ["bob", "alice"])  # the two most urgent went to both at once
    waiting = next(h for h, owner in zip(handoffs, owners) if owner is None)
    refused = service.api("POST", f"/api/handoffs/{waiting.id}/claim", person="bob")
    assert refused.status == 409 and "capacity" in refused.json["error"]
    vip = service.handoff(queue="concierge", priority=1, sla_seconds=120)
    route(service)
    assert service.services.queue.get(vip.id).agent_id == "alice"  # the kept slot
    assert [service.services.queue.get(h.id).agent_id for h in handoffs].count(None) == 3  # full now


def test_declining_sends_it_to_someone_else_and_says_why(service):
    presence(service, "bob", "online")
    handoff = service.handoff()
    route(service)
    assert service.services.queue.get(handoff.id).agent_id == "bob"
    assert service.api("POST", f"/api/handoffs/{handoff.id}/decline", person="bob", json={}).status == 400
    declined = service.api(
        "POST", f"/api/handoffs/{handoff.id}/decline", person="bob", json={"reason": "needs a Dutch speaker"}
    ).json
    assert declined["status"] == "waiting" and declined["declined_by"] == ["bob"]
    route(service)
    assert service.services.queue.get(handoff.id).status == "waiting"  # not back to bob
    presence(service, "alice", "online")
    route(service)
    final = service.api("GET", f"/api/handoffs/{handoff.id}", person="alice").json
    assert final["agent_id"] == "alice"
    assert [e["event"] for e in final["routing_log"]] == ["assigned", "declined", "assigned"]
    assert final["routing_log"][1]["reason"] == "needs a Dutch speaker"


def test_in_a_push_queue_an_agent_takes_the_next_chat_not_any(service):
    urgent = service.handoff(sla_seconds=60)
    later = service.handoff(sla_seconds=3600)
    refused = service.api("POST", f"/api/handoffs/{later.id}/claim", person="bob")
    assert refused.status == 409 and urgent.id in refused.json["error"]
    assert service.api("POST", f"/api/handoffs/{urgent.id}/claim", person="bob").status == 200


def test_the_heartbeat_keeps_an_agents_conversations(service):
    presence(service, "bob", "online")
    handoff = service.handoff()
    route(service)
    for _ in range(4):  # 8 minutes of an open console, past the 5-minute lease
        service.clock.advance(minutes=2)
        presence(service, "bob", "online")
        service.services.queue.upkeep(service.clock())
    assert service.services.queue.get(handoff.id).agent_id == "bob"


def test_a_waiting_customer_hears_their_place_and_the_wait(service):
    presence(service, "bob", "online")
    service.services.agents.update("bob", known_queues=service.services.rules.queues, capacity=1)
    first = service.handoff(sla_seconds=3600)
    route(service)
    second = service.handoff(sla_seconds=3600)
    service.clock.advance(seconds=1)
    third = service.handoff(sla_seconds=3600)  # a second later: behind `second` in line
    tend(service)
    assert service.rasa.said_by_bot(second.conversation_id) == ["You are 1st in line, about 6 minutes."]
    assert service.rasa.said_by_bot(third.conversation_id) == ["You are 2nd in line, about 12 minutes."]
    tend(service)  # nothing changed: nothing repeated
    assert len(service.rasa.said_by_bot(third.conversation_id)) == 1
    service.api("POST", f"/api/handoffs/{first.id}/resolve", person="bob")
    route(service)  # bob's slot went to the next in line
    service.clock.advance(seconds=61)
    presence(service, "bob", "online")  # his console's heartbeat
    tend(service)
    assert service.rasa.said_by_bot(third.conversation_id)[-1] == "You are 1st in line, about 6 minutes."


def test_the_callback_is_offered_before_the_sla_passes_and_taken(service):
    handoff = service.handoff(sla_seconds=600)  # a standard customer; nobody online
    tend(service)
    offer = service.rasa.said_by_bot(handoff.conversation_id)[-1]
    assert offer.startswith("I'm sorry: nobody from the team is free right now") and '"call me back"' in offer
    service.clock.advance(seconds=30)
    service.tracker.customer_says(handoff.conversation_id, "yes please call me back", at=service.clock().timestamp())
    tend(service)
    switched = service.services.queue.get(handoff.id)
    assert (switched.channel, switched.status) == ("phone_callback", "waiting")  # agents take it from the list
    assert service.rasa.calls_named("resume")[-1][1] == handoff.conversation_id  # the bot has the chat again
    assert service.rasa.said_by_bot(handoff.conversation_id)[-1].startswith("Done: we'll call you back")


@pytest.mark.parametrize("answers", [False, True])
def test_are_you_still_there(service, answers):
    presence(service, "bob", "online")
    service.services.agents.update("bob", known_queues=service.services.rules.queues, capacity=1)
    service.handoff(sla_seconds=7200)
    route(service)
    handoff = service.handoff(sla_seconds=7200)
    service.tracker.customer_says(handoff.conversation_id, "hello?", at=service.clock().timestamp())
    service.clock.advance(minutes=10)
    presence(service, "bob", "online")
    tend(service)
    assert any(text.startswith("Are you still there?") for text in service.rasa.said_by_bot(handoff.conversation_id))
    service.clock.advance(minutes=1)
    if answers:
        service.tracker.customer_says(handoff.conversation_id, "yes still here", at=service.clock().timestamp())
    service.clock.advance(minutes=2, seconds=1)
    presence(service, "bob", "online")
    counts = tend(service)
    assert service.services.queue.get(handoff.id).status == ("waiting" if answers else "abandoned")
    assert counts["abandoned"] == (0 if answers else 1)


def test_a_closed_chat_window_is_abandonment_but_a_reload_is_not(service):
    left, reloaded = service.handoff(), service.handoff()
    queue = service.services.queue
    queue.customer_left(left.conversation_id, service.clock())
    queue.customer_left(reloaded.conversation_id, service.clock())
    service.clock.advance(seconds=30)
    queue.customer_left(reloaded.conversation_id, None)  # the widget reconnected within the grace period
    service.clock.advance(seconds=61)
    tend(service)
    assert queue.get(left.id).status == "abandoned" and queue.get(left.id).abandoned_at is not None
    assert queue.get(reloaded.id).status == "waiting"
    assert queue.open_for(left.conversation_id) is None  # a new request for a person starts afresh


def test_the_policy_sees_who_is_online_and_the_measured_wait(service):
    router = service.services.router
    state = router.queue_state(service.clock())
    assert state.agents_available == {"concierge": 0, "retention": 0, "sales": 0, "general": 0}
    assert state.expected_wait_seconds == {}  # nobody online: no wait to promise
    presence(service, "bob", "online")
    for minutes in (2, 4, 4, 6, 8):  # five chats bob handled: a median of 4 minutes
        handoff = service.handoff()
        route(service)
        service.clock.advance(minutes=minutes)
        service.api("POST", f"/api/handoffs/{handoff.id}/resolve", person="bob")
        presence(service, "bob", "online")
    assert router.handle_seconds()["general"] == 240
    for _ in range(4):
        service.handoff()
    route(service)  # bob takes three; one waits
    state = router.queue_state(service.clock())
    assert state.agents_available["general"] == 0 and state.online("general") == 1
    assert state.expected_wait_seconds["general"] == 160  # 2nd in line, a slot frees every 240/3 s
    assert "concierge" not in state.expected_wait_seconds  # bob does not serve it


def test_an_abandoned_chat_goes_back_to_the_bot(service):
    handoff = service.handoff()
    service.services.queue.customer_left(handoff.conversation_id, service.clock())
    service.clock.advance(seconds=91)
    assert tend(service)["abandoned"] == 1
    assert service.rasa.calls_named("resume")[-1][1] == handoff.conversation_id  # paused no more


def test_what_rasa_did_not_deliver_is_said_again_next_round(service):
    presence(service, "bob", "online")
    service.services.agents.update("bob", known_queues=service.services.rules.queues, capacity=1)
    service.handoff(sla_seconds=7200)
    route(service)
    handoff = service.handoff(sla_seconds=7200)
    service.rasa.down = True
    assert tend(service)["told_position"] == 0
    assert service.services.queue.get(handoff.id).position_told is None  # not recorded as told
    service.rasa.down = False
    assert tend(service)["told_position"] == 1
    assert service.rasa.said_by_bot(handoff.conversation_id) == ["You are 1st in line, about 6 minutes."]


def test_one_message_per_customer_per_round(service):
    presence(service, "bob", "online")
    service.services.agents.update("bob", known_queues=service.services.rules.queues, capacity=1)
    service.handoff(sla_seconds=7200)
    route(service)
    handoff = service.handoff(sla_seconds=700)  # the forecast will pass this SLA: an offer is due too
    tend(service)
    service.clock.advance(minutes=10)
    presence(service, "bob", "online")
    before = len(service.rasa.said_by_bot(handoff.conversation_id))
    tend(service)
    said = service.rasa.said_by_bot(handoff.conversation_id)[before:]
    assert len(said) == 1 and said[0].startswith("Are you still there?")


def test_a_chat_everyone_online_declined_gets_no_false_promise(service):
    presence(service, "bob", "online")
    handoff = service.handoff()
    route(service)
    service.api("POST", f"/api/handoffs/{handoff.id}/decline", person="bob", json={"reason": "wrong language"})
    tend(service)
    said = service.rasa.said_by_bot(handoff.conversation_id)
    assert said and said[-1].startswith("I'm sorry: nobody from the team is free right now"), said


@pytest.mark.parametrize(
    "answer, takes",
    [
        ("call me back please", True),
        ("yes, callback", True),
        ("no, don't call me back, I'll wait", False),
        ("I already opened a ticket", False),
        ("ok", False),
    ],
)
def test_only_a_real_yes_takes_the_callback(answer, takes):
    from escalation.queue.routing import wants_callback

    assert wants_callback(answer) is takes


def test_the_greeting_on_assignment_is_not_the_first_response(service):
    presence(service, "bob", "online")
    handoff = service.handoff()
    route(service)
    assert service.rasa.calls_named("say_as_agent")  # greeted
    clocks = {c["name"]: c for c in service.api("GET", f"/api/handoffs/{handoff.id}", person="bob").json["sla"]}
    assert clocks["first_response"]["state"] == "running"  # until bob writes himself


def test_history_shows_only_what_the_agent_may_see(service):
    concierge = service.handoff(customer_id="demo-vip", queue="concierge", tier="vip")
    service.api("POST", f"/api/handoffs/{concierge.id}/claim", person="alice")
    service.api("POST", f"/api/handoffs/{concierge.id}/notes", person="alice", json={"text": "VIP discount 30%"})
    service.api("POST", f"/api/handoffs/{concierge.id}/resolve", person="alice", json={"resolution_code": "answered"})
    general = service.handoff(customer_id="demo-vip", queue="general", tier="vip")
    assert service.api("GET", f"/api/handoffs/{general.id}", person="bob").json["history"] == []  # not his queue
    assert [h["id"] for h in service.api("GET", f"/api/handoffs/{general.id}", person="alice").json["history"]] == [
        concierge.id
    ]


def test_one_round_gives_an_agent_every_chat_it_planned_for_her(service):
    presence(service, "alice", "online")  # capacity 3, serves concierge (one slot kept) and general
    vip = service.handoff(queue="concierge", priority=1, sla_seconds=120)
    general = [service.handoff(sla_seconds=600 + i) for i in range(3)]
    route(service)
    owners = [service.services.queue.get(h.id).agent_id for h in (vip, *general)]
    assert owners == ["alice", "alice", "alice", None]  # the VIP fills the kept slot: two general chats fit


def test_the_atomic_assign_keeps_the_reserved_slot_whatever_the_plan_saw(service):
    queue, now = service.services.queue, service.clock()
    general = [service.handoff(sla_seconds=600 + i) for i in range(3)]
    keep = {"concierge": 1}
    for handoff in general[:2]:  # as a round planned from loads read before a VIP chat was resolved
        queue.assign(handoff.id, "alice", now, queues=("concierge", "general"), capacity=3, keep_for=keep)
    with pytest.raises(AtCapacity, match="kept for concierge"):
        queue.assign(general[2].id, "alice", now, queues=("concierge", "general"), capacity=3, keep_for=keep)
    vip = service.handoff(queue="concierge", priority=1, sla_seconds=120)
    assert queue.assign(vip.id, "alice", now, queues=("concierge", "general"), capacity=3).agent_id == "alice"


def test_seeded_demo_history_is_never_a_measured_handle_time(service):
    queue = service.services.queue
    presence(service, "alice", "online")
    handoffs = [service.handoff(sla_seconds=600 + i) for i in range(2)]
    for handoff in handoffs:
        queue.assign(handoff.id, "alice", service.clock())
    service.clock.advance(seconds=300)
    queue.mark_demo_history([handoffs[0].conversation_id])
    for handoff in handoffs:
        service.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    assert queue.handle_times("general") == [300.0]  # the real one only
