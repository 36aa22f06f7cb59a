"""Every rule of the escalation policy, table-driven over escalation/rules.yml."""

from datetime import datetime, timezone

import pytest

from common.names import ReasonCode
from escalation.core.hours import is_open, next_opening
from escalation.core.policy import (
    HANDOVER,
    OFFER_OPTIONS,
    PHONE_CALLBACK,
    SELF_SERVICE,
    STAY,
    TICKET,
    CustomerView,
    QueueState,
    Signals,
    decide,
)
from escalation.core.reasons import codes
from escalation.core.rules import RulesError, parse_rules
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules, read_rules_mapping

RULES = load_rules(SHIPPED_RULES_FILE)  # the shipped rules, whatever .env says
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)  # Tuesday 11:00 in Amsterdam
CLOSED = datetime(2026, 11, 29, 22, 0, tzinfo=timezone.utc)  # Sunday night
CALM = QueueState(
    {"concierge": 30, "retention": 60, "sales": 60, "general": 300},
    {"concierge": 1, "retention": 1, "sales": 1, "general": 3},
)
BUSY = QueueState(
    {"concierge": 1800, "retention": 7200, "sales": 7200, "general": 7200},
    {"concierge": 1, "retention": 1, "sales": 1, "general": 1},
)
NOBODY = QueueState({}, {})

VIP = CustomerView("vip", "active", 5, 10)
PREMIUM = CustomerView("premium", "active", 4, 9)
STANDARD = CustomerView("standard", "active", 4, 8)
FREE = CustomerView("free", "active", None, 7)
ANON = CustomerView()
DETRACTOR = CustomerView("standard", "active", 1, 2)
CHURN = CustomerView("premium", "at_risk", 2, 5, "phone")
BUYER = CustomerView("free", "buying")

FAQ = Signals("faq", "where is my order", 0.0, 0.0, 0, 1)
MILD = Signals("complain", "still no parcel", -0.35, 0.35, 0, 3)
VERY = Signals("complain", "this is unacceptable, useless", -0.8, 0.8, 0, 4)
PERSON = Signals("request_human", "talk to a person", 0.0, 0.3, 0, 2)
CANCEL = Signals("cancel_subscription", "cancel my membership", -0.1, 0.1, 0, 1)
BUY = Signals("purchase_inquiry", "how much is premium", 0.2, 0.0, 0, 1)
DECLINED = Signals("faq/payment_declined", "my card keeps getting declined at checkout", 0.0, 0.0, 0, 1)
COMPETITOR = Signals("faq", "wayfair delivers faster than you", 0.0, 0.0, 0, 1)
CONFUSED = Signals("nlu_fallback", "asdf qwer", 0.0, 0.3, 2, 3)


@pytest.mark.parametrize(
    "name, customer, signals, action, queue",
    [
        ("routine FAQ stays with the bot, any tier", VIP, FAQ, STAY, None),
        ("routine FAQ, free", FREE, FAQ, STAY, None),
        ("VIP at the first clear sign of trouble", VIP, MILD, HANDOVER, "concierge"),
        ("premium hands over on mild negativity", PREMIUM, MILD, HANDOVER, "general"),
        ("standard needs stronger signals", STANDARD, MILD, STAY, None),
        ("standard, very negative", STANDARD, VERY, HANDOVER, "general"),
        ("detractor escalates sooner whatever the tier", DETRACTOR, MILD, HANDOVER, "general"),
        (
            "free tier mildly negative: self-service first",
            FREE,
            Signals("complain", "meh", -0.45, 0.3, 0, 2),
            SELF_SERVICE,
            "general",
        ),
        ("free tier clearly upset reaches a person", FREE, VERY, HANDOVER, "general"),
        (
            "free tier with a low last CSAT: no self-service detour",
            CustomerView("free", "active", 2, None),
            Signals("complain", "meh", -0.3, 0.3, 0, 2),
            HANDOVER,
            "general",
        ),
        ("anonymous clearly upset reaches a person", ANON, VERY, HANDOVER, "general"),
        ("asking for a person works for VIP", VIP, PERSON, HANDOVER, "concierge"),
        ("asking for a person works for free", FREE, PERSON, HANDOVER, "general"),
        ("asking for a person works for anonymous", ANON, PERSON, HANDOVER, "general"),
        ("cancel intent of a paying customer goes to retention", STANDARD, CANCEL, HANDOVER, "retention"),
        ("churn-risk customer complaining goes to retention", CHURN, MILD, HANDOVER, "retention"),
        ("competitor mentioned goes to retention", PREMIUM, COMPETITOR, HANDOVER, "retention"),
        ("VIP keeps the concierge even when cancelling", VIP, CANCEL, HANDOVER, "concierge"),
        ("buying-stage question goes to sales", BUYER, BUY, HANDOVER, "sales"),
        ("active customer asking prices stays with the bot", STANDARD, BUY, STAY, None),
        ("buyer whose payment keeps failing goes to sales", BUYER, DECLINED, HANDOVER, "sales"),
        ("existing customer whose payment fails gets the FAQ", STANDARD, DECLINED, STAY, None),
        ("VIP after a fallback", VIP, CONFUSED, HANDOVER, "concierge"),
        ("standard after two fallbacks stays", STANDARD, CONFUSED, STAY, None),
        (
            "long conversation for a standard customer",
            STANDARD,
            Signals("faq", "and?", 0.0, 0.0, 0, 24),
            HANDOVER,
            "general",
        ),
    ],
)
def test_rules(name, customer, signals, action, queue):
    decision = decide(customer, signals, CALM, OPEN, RULES)
    assert (decision.action, decision.queue) == (action, queue), (name, decision.reasons)
    assert decision.reasons, name  # every decision says why
    assert decision.escalates is (action in (HANDOVER, OFFER_OPTIONS))
    if decision.escalates:
        assert decision.customer_message


@pytest.mark.parametrize("customer, sla_seconds", [(VIP, 120), (PREMIUM, 600), (STANDARD, 3600), (FREE, 86400)])
def test_sla_per_segment(customer, sla_seconds):
    assert decide(customer, PERSON, CALM, OPEN, RULES).sla_seconds == sla_seconds


def test_priority_orders_segments_and_history():
    def p(c, s=MILD):
        return decide(c, s, CALM, OPEN, RULES).priority

    assert p(VIP) < p(PREMIUM) < p(CustomerView("standard", "active", 4, 8), VERY)
    assert p(DETRACTOR) < p(STANDARD, VERY)  # unhappy history raises priority
    assert decide(BUYER, BUY, CALM, OPEN, RULES).priority < decide(FREE, PERSON, CALM, OPEN, RULES).priority


@pytest.mark.parametrize("customer, signals", [(VIP, PERSON), (FREE, PERSON), (ANON, PERSON), (STANDARD, VERY)])
@pytest.mark.parametrize("queues, now", [(CALM, OPEN), (BUSY, OPEN), (NOBODY, OPEN), (CALM, CLOSED)])
def test_no_dead_end(customer, signals, queues, now):
    """Asking for a person (or being clearly upset) always ends with a person or an honest offer."""
    decision = decide(customer, signals, queues, now, RULES)
    assert decision.action in (HANDOVER, OFFER_OPTIONS)
    if decision.action == OFFER_OPTIONS:
        assert decision.channel in (PHONE_CALLBACK, TICKET)
        assert "callback" in decision.customer_message or "ticket" in decision.customer_message


def test_busy_queue_offers_lower_segments_a_callback_but_vip_goes_through():
    assert decide(STANDARD, PERSON, BUSY, OPEN, RULES).action == OFFER_OPTIONS
    vip = decide(VIP, PERSON, BUSY, OPEN, RULES)
    assert vip.action == HANDOVER and ReasonCode.BUSY_BUT_STRAIGHT_THROUGH in codes(vip.reasons)
    upset = decide(STANDARD, VERY, BUSY, OPEN, RULES)
    assert upset.action == HANDOVER


def test_busy_message_states_the_wait():
    decision = decide(STANDARD, PERSON, BUSY, OPEN, RULES)
    assert "2 hours" in decision.customer_message and decision.channel == PHONE_CALLBACK


def test_outside_hours_says_when_the_team_is_back():
    decision = decide(FREE, PERSON, CALM, CLOSED, RULES)
    assert decision.action == OFFER_OPTIONS and decision.channel == TICKET
    assert "Monday 08:00" in decision.customer_message
    assert ReasonCode.OUTSIDE_BUSINESS_HOURS in codes(decision.reasons)
    # The SLA runs from the opening time: a ticket queued overnight is not "breached" by morning.
    opening = next_opening(RULES, CLOSED)
    open_at_due = decide(FREE, PERSON, CALM, opening, RULES)
    assert decision.sla_seconds == int((opening - CLOSED).total_seconds()) + open_at_due.sla_seconds


@pytest.mark.parametrize(
    "now, expected",
    [
        (datetime(2026, 11, 24, 6, 59, tzinfo=timezone.utc), False),  # Tue 07:59 Amsterdam
        (datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc), True),
        (datetime(2026, 11, 28, 16, 30, tzinfo=timezone.utc), False),  # Sat 17:30
        (datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc), False),  # Sunday
    ],
)
def test_business_hours(now, expected):
    assert is_open(RULES, now) is expected


def test_next_opening_skips_closed_days():
    opening = next_opening(RULES, datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc))  # Saturday night
    assert (opening.strftime("%a %H:%M")) == "Mon 08:00"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["segments"].pop("vip"), "segments.vip is missing"),
        (lambda d: d["segments"]["premium"].update(queue="nowhere"), "segments.premium.queue must be one of"),
        (lambda d: d["segments"]["free"].update(sla_minutes="soon"), "segments.free.sla_minutes must be a number"),
        (lambda d: d["segments"]["standard"]["handover"].update(sentiment_at_most=-3), "between -1 and 1"),
        (lambda d: d["business_hours"].update(timezone="Mars/Olympus"), "not a known time zone"),
        (lambda d: d["business_hours"]["days"].update(mon=["20:00", "08:00"]), "must end after it starts"),
        (lambda d: d["journey"]["buying"].update(queue="shop"), "journey.buying.queue"),
    ],
)
def test_invalid_rules_are_refused_with_the_place(change, message):
    data = read_rules_mapping(SHIPPED_RULES_FILE)
    change(data)
    with pytest.raises(RulesError, match=message.replace("(", r"\(")):
        parse_rules(data)


def test_all_problems_are_reported_at_once():
    data = read_rules_mapping(SHIPPED_RULES_FILE)
    data["segments"]["vip"]["priority"] = 0
    data["segments"]["free"]["channel"] = "pigeon"
    with pytest.raises(RulesError) as error:
        parse_rules(data)
    assert "segments.vip.priority" in str(error.value) and "segments.free.channel" in str(error.value)


@pytest.mark.parametrize(
    "customer, signals, without_option, shipped",
    [
        (STANDARD, VERY, 3600, 600),  # dissatisfied: at most 10 minutes, not the tier's hour
        (FREE, VERY, 86400, 600),  # whatever the tier
        (VIP, VERY, 120, 120),  # already sooner: the tier's own SLA stands
        (STANDARD, PERSON, 3600, 3600),  # a calm request for a person: the tier's SLA
    ],
)
def test_dissatisfied_customers_get_a_shorter_sla_unless_the_rules_leave_it_out(
    customer, signals, without_option, shipped
):
    data = read_rules_mapping(SHIPPED_RULES_FILE)
    del data["satisfaction"]["dissatisfied_sla_minutes"]  # the option is optional
    assert decide(customer, signals, CALM, OPEN, parse_rules(data)).sla_seconds == without_option
    assert decide(customer, signals, CALM, OPEN, RULES).sla_seconds == shipped


@pytest.mark.parametrize(
    "reserved, problem",
    [
        ({"vip_lounge": 1}, "routing.reserved_slots.vip_lounge is not a queue"),
        ({"concierge": -1}, "routing.reserved_slots.concierge must be between 0 and 50"),
        ({"concierge": 1.5}, "routing.reserved_slots.concierge must be a whole number"),
        ([1], "routing.reserved_slots must map queue names"),
    ],
)
def test_reserved_slots_are_checked(reserved, problem):
    data = read_rules_mapping(SHIPPED_RULES_FILE)
    data["routing"]["reserved_slots"] = reserved
    with pytest.raises(RulesError) as error:
        parse_rules(data)
    assert problem in str(error.value)


@pytest.mark.parametrize(
    "customer",
    [CustomerView("vip", "active", None, 2), CustomerView("vip", "active", 1, None), DETRACTOR],
)
@pytest.mark.parametrize(
    "signals",
    [FAQ, Signals("greet", "hi", 0.0, 0.0, 0, 1), Signals("rate_csat", "5", 0.0, 0.0, 0, 6)],
)
def test_an_unhappy_history_never_hands_over_a_calm_neutral_message(customer, signals):
    # the relief lowers the VIP's frustration threshold 0.2 -> 0.05 at least, never to 0 (every message)
    assert decide(customer, signals, CALM, OPEN, RULES).action == STAY
