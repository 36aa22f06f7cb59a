"""The support-day simulation (bench/routing_simulation.py): it runs the product's own policy and routing,
both routings get the same day, and its own event log shows that nobody is over capacity and no chat is
assigned twice."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bench import routing_simulation as sim
from escalation.core import policy, routing
from escalation.core.routing import ONLINE, AgentLoad, WaitingHandoff, plan_assignments
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules

# Small but busy: the surge of the full scenario, a tenth of a hundredth of its people.
SMALL = replace(sim.FULL, name="small", conversations=2_500, agents=12, seed=11)


@pytest.fixture(scope="module")
def rules():
    return load_rules(SHIPPED_RULES_FILE)


@pytest.fixture(scope="module")
def day(rules):
    return sim.run_day(SMALL, rules, keep_log=True)


def test_the_quick_scenario_runs_and_reports_every_target():
    summary = sim.main(["--quick"])
    assert [name for name, *_ in summary["targets"]] == [
        "VIP first-response SLA attainment >= 95%",
        "dissatisfied customers' p90 time in line <= half of FIFO's",
        "overall abandonment no worse than FIFO's",
    ]
    for found in summary["metrics"].values():
        assert found["queued"] > 1000
        assert found["served"] + found["abandoned"] == found["queued"]
        assert 0.3 < found["utilisation"] < 1.0
    assert (
        summary["timings"]["applied"]
        == summary["metrics"][sim.PRODUCT]["served"] + (summary["metrics"][sim.PRODUCT]["ghost_assignments"])
    )


def test_the_simulation_runs_the_products_code_not_a_copy(rules, monkeypatch):
    assert sim.plan_assignments is routing.plan_assignments
    assert sim.decide is policy.decide
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return routing.plan_assignments(*args, **kwargs)

    monkeypatch.setattr(sim, "plan_assignments", counting)
    conversations = sim.generate_day(replace(SMALL, conversations=300), rules)
    run = sim.simulate(SMALL, rules, conversations, sim.roster(SMALL), sim.PRODUCT)
    assert len(calls) == len(run.plan_calls) > 0
    assert len(run.decisions) == len(conversations)
    calls.clear()  # FIFO is the product's plan too, in arrival order
    sim.simulate(SMALL, rules, conversations, sim.roster(SMALL), sim.FIFO, decisions=run.decisions)
    assert calls


def test_the_same_seed_gives_the_same_day_and_another_seed_another(rules):
    first, again = sim.generate_day(SMALL, rules), sim.generate_day(SMALL, rules)
    other = sim.generate_day(replace(SMALL, seed=SMALL.seed + 1), rules)
    assert first == again
    assert [c.arrival for c in first] != [c.arrival for c in other]


def test_both_routings_see_the_same_arrivals(day):
    product, fifo = day

    def arrivals(run):
        return [(at, kind, conversation) for at, kind, conversation, _ in run.events if kind in ("arrival", "queued")]

    assert arrivals(product) == arrivals(fifo)
    assert sum(1 for _, kind, _ in arrivals(product)) > 0
    assert product.conversations is fifo.conversations
    assert [d.queue for d in product.decisions] == [d.queue for d in fifo.decisions]
    # ... and the routings do differ: otherwise the comparison would show nothing
    assert not np.array_equal(product.assigned_at, fifo.assigned_at, equal_nan=True)


@pytest.mark.parametrize("which", [0, 1], ids=["product", "FIFO"])
def test_no_agent_is_over_capacity_and_no_chat_is_assigned_twice(day, which):
    run = day[which]
    capacity = {a.name: a.capacity for a in run.agents}
    open_chats = {name: 0 for name in capacity}
    on_shift = set()
    queued, assigned, gone = set(), set(), set()
    for _, kind, conversation, agent in run.events:
        if kind == "shift_start":
            on_shift.add(agent)
        elif kind == "shift_end":
            on_shift.discard(agent)
        elif kind == "queued":
            queued.add(conversation)
        elif kind == "assigned":
            assert conversation in queued and conversation not in assigned and conversation not in gone
            assert agent in on_shift
            assigned.add(conversation)
            open_chats[agent] += 1
            assert open_chats[agent] <= capacity[agent]
        elif kind == "chat_end":
            open_chats[agent] -= 1
            assert open_chats[agent] >= 0
        elif kind == "abandoned":
            assert conversation not in assigned
            gone.add(conversation)
    assert assigned and gone
    assert max(open_chats.values()) == 0  # every chat ended
    assert queued == assigned | gone  # every queued chat was answered or noticed gone


def test_the_product_serves_vips_no_later_on_average_than_fifo(day):
    found = {run.routing: sim.metrics(run)["per_tier"]["vip"] for run in day}
    assert found[sim.FIFO]["queued"] == found[sim.PRODUCT]["queued"] > 20
    assert found[sim.FIFO]["mean_wait"] > 0  # VIPs did wait with FIFO: the comparison means something
    assert found[sim.PRODUCT]["mean_wait"] <= found[sim.FIFO]["mean_wait"]
    assert found[sim.PRODUCT]["sla_attainment"] >= found[sim.FIFO]["sla_attainment"]


def test_leaving_out_calls_that_cannot_assign_changes_nothing(rules):
    scenario = replace(SMALL, conversations=1_200)
    conversations, agents = sim.generate_day(scenario, rules), sim.roster(scenario)
    every = sim.simulate(scenario, rules, conversations, agents, sim.PRODUCT, keep_log=False)
    fewer = sim.simulate(scenario, rules, conversations, agents, sim.PRODUCT, keep_log=False, skip_idle=True)
    assert np.array_equal(every.assigned_at, fewer.assigned_at, equal_nan=True)
    assert [c[:2] for c in every.chats] == [c[:2] for c in fewer.chats]
    assert len(fewer.plan_calls) < len(every.plan_calls)


def test_fifo_is_the_products_plan_with_arrival_order_as_urgency():
    """fifo_plan must differ from plan_assignments only in the order: with every handoff's urgency set to
    its arrival time, the product's own plan is the same."""
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    rng = random.Random(3)
    queues = ("concierge", "retention", "sales", "general")
    for _ in range(200):
        agents = [
            AgentLoad(
                f"a{i}",
                tuple(rng.sample(queues, rng.randint(1, 4))),
                capacity := rng.randint(1, 3),
                rng.randint(0, capacity),
                ONLINE if rng.random() < 0.8 else "offline",
                None if rng.random() < 0.3 else now - timedelta(seconds=rng.randint(1, 900)),
            )
            for i in range(rng.randint(1, 8))
        ]
        waiting = [
            WaitingHandoff(
                f"h{j}",
                rng.choice(queues),
                rng.randint(1, 4),
                now + timedelta(seconds=rng.randint(-300, 3600)),
                now - timedelta(seconds=rng.randint(0, 900)),
            )
            for j in range(rng.randint(0, 12))
        ]
        by_arrival = [replace(h, sla_due_at=h.created_at, priority=1) for h in waiting]
        assert sim.fifo_plan(waiting, agents, now, queues) == plan_assignments(by_arrival, agents, now, queues)


def test_a_departure_is_noticed_as_the_product_notices_it(rules):
    conversation = sim.generate_day(replace(SMALL, conversations=1), rules)[0]
    closed = replace(conversation, arrival=1000.0, leaves_window_open=False)
    left_open = replace(conversation, arrival=1000.0, leaves_window_open=True)
    # Window closed: customer_gone_seconds later, at the next 5-second upkeep round.
    assert sim._detected_at(SMALL, rules, closed, 1101.0) == 1195.0
    # Window left open: the first "are you still there?" after they left goes unanswered, plus the grace.
    after, grace = rules.routing.still_there_after_seconds, rules.routing.still_there_grace_seconds
    assert sim._detected_at(SMALL, rules, left_open, 1101.0) == 1000.0 + after + grace
    assert sim._detected_at(SMALL, rules, left_open, 1000.0 + after + 1) == 1000.0 + 2 * after + grace


def test_the_report_measures_what_happened(day):
    product, fifo = day
    found = sim.metrics(fifo)
    joined = fifo.joined
    answered = joined & ~np.isnan(fifo.assigned_at) & ~fifo.ghost
    assert found["served"] == int(answered.sum())
    assert math.isclose(found["abandonment"], 1 - answered.sum() / joined.sum())
    verdicts = sim.targets(found, sim.metrics(product))
    assert [ok for *_, ok in verdicts] == [
        sim.metrics(product)["per_tier"]["vip"]["sla_attainment"] >= 0.95,
        sim.metrics(product)["dissatisfied"]["p90"] <= 0.5 * found["dissatisfied"]["p90"],
        sim.metrics(product)["abandonment"] <= found["abandonment"],
    ]


def test_the_charts_are_drawn(day, tmp_path):
    product, fifo = day
    sim.charts(sim.metrics(product), sim.metrics(fifo), tmp_path / "chart.png")
    sim.scale_chart(product, {10: 0.1, 100: 1.0}, tmp_path / "scale.png")
    assert (tmp_path / "chart.png").stat().st_size > 10_000
    assert (tmp_path / "scale.png").stat().st_size > 10_000
