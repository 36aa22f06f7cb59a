"""Routing's pure decisions (escalation/core/routing.py), table-driven: who is eligible, who wins,
the order waiting chats go out in, and the waits customers are told."""

from datetime import datetime, timedelta, timezone

import pytest

from escalation.core.routing import (
    AWAY,
    OFFLINE,
    ONLINE,
    AgentLoad,
    WaitingHandoff,
    breaches_sla,
    choose_agent,
    effective_presence,
    expected_wait_seconds,
    median_handle_seconds,
    ordinal,
    plan_assignments,
    position_message,
    queue_waits,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def agent(name, open_=0, capacity=3, presence=ONLINE, queues=("general",), last=None, by_queue=None):
    by_queue = by_queue if by_queue is not None else ({queues[0]: open_} if open_ else {})
    return AgentLoad(name, tuple(queues), capacity, open_, presence, last, by_queue)


def waiting(id_, queue="general", priority=3, due_in=600, age=0, declined=()):
    return WaitingHandoff(
        id_, queue, priority, NOW + timedelta(seconds=due_in), NOW - timedelta(seconds=age), frozenset(declined)
    )


@pytest.mark.parametrize(
    "status, seen_ago, expected",
    [
        (ONLINE, 10, ONLINE),
        (AWAY, 10, AWAY),
        (ONLINE, 61, OFFLINE),  # the console stopped its heartbeat: offline within a minute
        (ONLINE, None, OFFLINE),  # never seen
        ("busy", 1, OFFLINE),  # not a presence
    ],
)
def test_presence_counts_only_while_the_heartbeat_is_fresh(status, seen_ago, expected):
    seen = None if seen_ago is None else NOW - timedelta(seconds=seen_ago)
    assert effective_presence(status, seen, NOW, 60) == expected


@pytest.mark.parametrize(
    "agents, handoff, winner",
    [
        ([agent("alice", 1), agent("bob", 0)], waiting("h"), "bob"),  # fewest open conversations
        ([agent("alice", 0, presence=AWAY), agent("bob", 2)], waiting("h"), "bob"),  # away gets nothing
        ([agent("alice", 3), agent("bob", 3)], waiting("h"), None),  # everyone at capacity
        ([agent("alice", 0, queues=("concierge",)), agent("bob", 0)], waiting("h", "concierge"), "alice"),  # skills
        ([agent("alice", 0, queues=("general",))], waiting("h", "concierge"), None),  # bob never gets concierge
        ([agent("alice", 0), agent("bob", 0)], waiting("h", declined=("alice",)), "bob"),  # alice declined it
        (  # a tie goes to whoever waited longest since their last assignment
            [agent("alice", 1, last=NOW - timedelta(minutes=1)), agent("bob", 1, last=NOW - timedelta(minutes=9))],
            waiting("h"),
            "bob",
        ),
        ([agent("bob", 1, last=NOW), agent("alice", 1, last=None)], waiting("h"), "alice"),  # never assigned: longest
        ([agent("bob", 0), agent("alice", 0)], waiting("h"), "alice"),  # all equal: by name, deterministic
        ([agent("alice", 0, capacity=1, presence=OFFLINE)], waiting("h"), None),
    ],
)
def test_who_gets_a_waiting_chat(agents, handoff, winner):
    chosen = choose_agent(handoff, agents)
    assert (chosen.name if chosen else None) == winner


def test_the_plan_goes_most_urgent_first_and_never_over_capacity():
    handoffs = [
        waiting("standard-early", priority=3, due_in=3600, age=300),
        waiting("vip", "concierge", priority=1, due_in=120),
        waiting("premium", priority=2, due_in=600, age=60),
        waiting("standard-late", priority=3, due_in=3600, age=10),
    ]
    agents = [agent("alice", 1, capacity=2, queues=("concierge", "general")), agent("bob", 0, capacity=2)]
    plan = plan_assignments(handoffs, agents, NOW, ["concierge", "general"])
    assert plan == [("vip", "alice"), ("premium", "bob"), ("standard-early", "bob")]  # then everyone is full


KEEP_ONE = {"concierge": 1}
BOTH = ("concierge", "general")


@pytest.mark.parametrize(
    "load, queue, reserved, free",
    [
        (agent("a", 0, 2, queues=BOTH), "general", KEEP_ONE, 1),  # one of two slots kept for a VIP
        (agent("a", 0, 2, queues=BOTH), "concierge", KEEP_ONE, 2),  # a VIP may have both
        (agent("a", 1, 2, queues=BOTH, by_queue={"general": 1}), "general", KEEP_ONE, 0),  # the kept one stays
        (agent("a", 1, 2, queues=BOTH, by_queue={"general": 1}), "concierge", KEEP_ONE, 1),  # ... for the VIP
        (agent("a", 1, 3, queues=BOTH, by_queue={"concierge": 1}), "general", KEEP_ONE, 2),  # a VIP fills the reserve
        (agent("a", 0, 3, queues=("general",)), "general", KEEP_ONE, 3),  # not serving concierge: nothing kept
        (agent("a", 0, 2, queues=BOTH), "general", {}, 2),  # no reserve in the rules
        (agent("a", 0, 1, queues=BOTH), "general", {"concierge": 3}, 0),  # a reserve above capacity: all kept
    ],
)
def test_reserved_slots_are_kept_for_their_queue(load, queue, reserved, free):
    assert load.free_slots_for(queue, reserved) == free
    assert load.can_take(queue, reserved) == (free > 0)


def test_the_plan_keeps_a_concierge_slot_and_a_vip_gets_it():
    alice, bob = agent("alice", 0, 2, queues=BOTH), agent("bob", 0, 3)
    line = [waiting(f"g{i}", due_in=100 + i) for i in range(5)]
    plan = plan_assignments(line, [alice, bob], NOW, BOTH, reserved=KEEP_ONE)
    assert sorted(name for _, name in plan) == ["alice", "bob", "bob", "bob"]  # alice keeps one
    vip = waiting("vip", "concierge", 1, due_in=120, age=0)
    plan = plan_assignments([*line, vip], [alice, bob], NOW, BOTH, reserved=KEEP_ONE)
    assert ("vip", "alice") in plan and [h for h, name in plan].count("vip") == 1
    assert sum(1 for _, name in plan if name == "alice") == 2  # the VIP and one general chat: her capacity
    fifo_like = plan_assignments(line, [alice, bob], NOW, BOTH)  # without the reserve she fills up
    assert sum(1 for _, name in fifo_like if name == "alice") == 2


def test_waits_do_not_count_slots_kept_for_another_queue():
    alice = agent("alice", 0, 2, queues=BOTH)
    waits, available, _ = queue_waits(BOTH, [alice], {"general": 3}, {"concierge": 600, "general": 600}, KEEP_ONE)
    # general: 1 slot of hers (one kept), 4th in line behind it: (4 - 1) * 600 / 1
    assert waits["general"] == 1800 and available == {"concierge": 1, "general": 1}
    assert queue_waits(BOTH, [alice], {"general": 3}, {"concierge": 600, "general": 600})[0]["general"] == 600


def test_pull_queues_are_left_for_agents_to_claim():
    plan = plan_assignments(
        [waiting("g"), waiting("s", "sales")], [agent("bob", queues=("general", "sales"))], NOW, ["general"]
    )
    assert plan == [("g", "bob")]


def test_a_queue_with_nobody_does_not_hold_up_the_others():
    plan = plan_assignments(
        [waiting("vip", "concierge", priority=1, due_in=60), waiting("g", due_in=3600)],
        [agent("bob")],
        NOW,
        ["concierge", "general"],
    )
    assert plan == [("g", "bob")]


@pytest.mark.parametrize(
    "samples, expected",
    [([], 360), ([100, 200, 300, 400], 360), ([100, 200, 300, 400, 900], 300), ([1, 2, 3, 4, 5, 6], 3.5)],
)
def test_handle_time_is_the_measured_median_once_there_are_five(samples, expected):
    assert median_handle_seconds(samples, 360) == expected


@pytest.mark.parametrize(
    "position, online_slots, free_slots, handle, expected",
    [
        (1, 3, 1, 300, 0),  # a free slot: no wait
        (2, 3, 1, 300, 100),  # one ahead of the free slot: one of three slots frees in 300/3 s
        (4, 6, 0, 360, 240),
        (1, 0, 0, 360, None),  # nobody online: no wait can be promised
    ],
)
def test_expected_wait(position, online_slots, free_slots, handle, expected):
    assert expected_wait_seconds(position, online_slots, free_slots, handle) == expected


def test_queue_waits_count_only_online_serving_agents():
    agents = [
        agent("alice", 3, capacity=3, queues=("concierge", "general")),
        agent("bob", 1, capacity=3),
        agent("carol", 0, presence=AWAY),
    ]
    waits, available, online = queue_waits(
        ["concierge", "general", "sales"],
        agents,
        {"general": 2, "concierge": 1},
        {"concierge": 300, "general": 360, "sales": 360},
    )
    assert available == {"concierge": 0, "general": 1, "sales": 0}  # alice is full; carol is away
    assert online == {"concierge": 1, "general": 2, "sales": 0}
    assert waits == {"concierge": 200, "general": 60}  # sales: nobody online, no wait to promise


@pytest.mark.parametrize(
    "position, wait, text",
    [
        (1, 0, "You are 1st in line: someone will be with you in about a minute."),
        (2, 240, "You are 2nd in line, about 4 minutes."),
        (3, 4000, "You are 3rd in line, about 1 hour."),
        (11, 600, "You are 11th in line, about 10 minutes."),
        (2, None, "You are 2nd in line. Nobody from the team is online right now; you keep your place."),
    ],
)
def test_what_a_waiting_customer_is_told(position, wait, text):
    assert position_message(position, wait) == text


@pytest.mark.parametrize("number, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (12, "12th"), (22, "22nd")])
def test_ordinal(number, text):
    assert ordinal(number) == text


@pytest.mark.parametrize(
    "due_in, wait, breaches", [(600, 300, False), (600, 601, True), (600, None, True), (-10, 0, True)]
)
def test_the_forecast_against_the_sla(due_in, wait, breaches):
    assert breaches_sla(NOW, NOW + timedelta(seconds=due_in), wait) == breaches
