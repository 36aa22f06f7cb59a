"""Push routing in a running system of its own (every queue push, nobody online until a test says so),
over the API as a client would and in Chromium: a VIP's request for a person goes to the online
concierge agent without any claim, bob (who does not serve concierge) never gets it, nobody online
means an honest offer of a callback, and in the console a pushed conversation appears by itself with
a notification; the agent answers and resolves."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import running_system
from tests.integration.test_browser_journey import (  # noqa: F401 (the browser fixture)
    WAIT_MS,
    browser,
    customer_says,
    last_bot_message,
    open_website_as,
    sign_in,
)


@pytest.fixture(scope="module")
def system(trained_model, tmp_path_factory):
    with running_system(
        trained_model, tmp_path_factory.mktemp("routing-system"), routing="push", on_shift=()
    ) as running:
        yield running


def presence(system, agent: str, status: str) -> None:
    system.api("POST", "/api/presence", agent=agent, json={"status": status}).raise_for_status()


def handoff_of(system, conversation_id: str) -> dict:
    for status in ("assigned", "waiting"):
        for handoff in system.api("GET", f"/api/handoffs?status={status}", agent="alice").json():
            if handoff["conversation_id"] == conversation_id:
                return handoff
    raise AssertionError(f"no open handoff for {conversation_id}")


def said(messages) -> str:
    return " ".join(m.get("text", "") for m in messages)


def test_push_routing_over_the_api(system):
    # Nobody serving concierge is online (bob serves the other queues): an honest offer, not a promise.
    presence(system, "bob", "online")
    presence(system, "alice", "away")
    first = system.conversation("demo-vip")
    answer = said(first.send("I want to talk to a person"))
    assert "Nobody from our team can take a chat right now" in answer and "callback" in answer, answer
    assert handoff_of(system, first.id)["channel"] == "phone_callback"

    # alice online, bob away: the next VIP request is hers at once, without a claim.
    presence(system, "alice", "online")
    presence(system, "bob", "away")
    second = system.conversation("demo-vip")
    answer = said(second.send("I want to talk to a person"))
    assert "Alice from our concierge team has joined" in answer, answer
    handoff = handoff_of(system, second.id)
    assert (handoff["status"], handoff["agent_id"], handoff["queue"]) == ("assigned", "alice", "concierge")
    detail = system.api("GET", f"/api/handoffs/{handoff['id']}", agent="alice").json()
    assert detail["routing_log"][0]["event"] == "assigned"  # pushed, not claimed
    assert system.api("GET", "/api/me", agent="alice").json()["presence"] == "online"
    assert system.api("GET", "/api/me", agent="bob").json()["presence"] == "away"

    # bob, online again, never receives a concierge handoff, nor may he look at or take one.
    presence(system, "bob", "online")
    presence(system, "alice", "away")
    third = system.conversation("demo-vip")
    third.send("I want to talk to a person")
    callback = handoff_of(system, third.id)
    assert callback["agent_id"] is None and callback["channel"] == "phone_callback"
    assert system.api("GET", f"/api/handoffs/{handoff['id']}", agent="bob").status_code == 403
    assert system.api("POST", f"/api/handoffs/{callback['id']}/claim", agent="bob").status_code == 403
    mine = system.api("GET", "/api/handoffs?status=assigned", agent="bob").json()
    assert not [h for h in mine if h["queue"] == "concierge"]

    # A standard customer's request goes to bob, the one online for general.
    standard = system.conversation("demo-standard")
    answer = said(standard.send("can I talk to a human please"))
    assert "Bob from our general team has joined" in answer, answer
    assert handoff_of(system, standard.id)["agent_id"] == "bob"


@pytest.mark.browser
def test_a_pushed_conversation_appears_in_the_console_by_itself(browser, system):  # noqa: F811
    presence(system, "bob", "away")
    presence(system, "alice", "away")  # as the API test left her
    agent = sign_in(browser, system, "alice")
    expect(agent.locator("#presence")).to_have_value("away")  # the console keeps what she set last
    agent.select_option("#presence", "online")  # alice goes online in the console
    expect(agent.locator("#load")).to_contain_text("of 3 chats", timeout=WAIT_MS)

    customer = open_website_as(browser, system, "demo-standard")
    customer_says(customer, "I need to speak to a person about my order")
    expect(last_bot_message(customer)).to_contain_text("Alice", timeout=WAIT_MS)  # told who joined

    # No claim: the conversation is in her console, opened, with a notification.
    expect(agent.locator("#notice")).to_contain_text("New conversation for you: demo-standard", timeout=WAIT_MS)
    expect(agent.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#customer-badges .badge.tier-standard")).to_be_visible()
    expect(agent.locator("#mine .handoff").filter(has_text="demo-standard")).to_have_count(1)

    agent.fill("#reply", "Hello! I have your order in front of me.")
    agent.press("#reply", "Enter")
    expect(last_bot_message(customer)).to_contain_text("I have your order in front of me", timeout=WAIT_MS)

    agent.once("dialog", lambda dialog: dialog.accept())
    agent.click("#resolve")
    expect(agent.locator("#status-line")).to_contain_text("Resolved", timeout=WAIT_MS)
    expect(last_bot_message(customer)).to_contain_text("rate", timeout=WAIT_MS)
    agent.close()
    customer.close()
