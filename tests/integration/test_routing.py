"""Push routing in a running system of its own (every queue push, nobody online until a test says so),
over the API as a client would and in Chromium: a VIP's request for a person goes to the online
concierge agent without any claim, bob (who does not serve concierge) never gets it, nobody online
means an honest offer of a callback, and in the console a pushed conversation appears by itself with
a notification; the agent answers and resolves."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import running_system
from tests.integration.test_browser_journey import (  # noqa: F401 (the browser fixture)
    SCREENSHOTS,
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


def wait_until_online(system, agent: str) -> None:
    """The console's switch posts the presence in the background: the test goes on once it is stored."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while system.api("GET", "/api/me", agent=agent).json()["presence"] != "online":
        assert time.monotonic() < deadline, f"{agent} did not go online"
        time.sleep(0.1)  # polling for the condition


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
    wait_until_online(system, "alice")
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

    agent.click("#resolve")
    agent.select_option("#resolution-code", "answered")
    agent.click("#wrap-up-confirm")
    expect(agent.locator("#status-line")).to_contain_text("Resolved", timeout=WAIT_MS)
    expect(last_bot_message(customer)).to_contain_text("rate", timeout=WAIT_MS)
    agent.close()
    customer.close()


@pytest.mark.browser
def test_an_agents_day_in_the_workspace(browser, system):  # noqa: F811
    """Issue 13: a canned response with the customer's first name, a private note the widget never
    shows, the customer's earlier conversation in the context panel, a notice when the customer writes
    while the agent looks at another conversation, and the wrap-up with a resolution code."""
    presence(system, "bob", "away")
    presence(system, "alice", "online")
    for handoff in system.api("GET", "/api/handoffs?status=assigned", agent="alice").json():
        if handoff["agent_id"] == "alice":  # earlier tests' chats: alice starts with free slots
            system.api("POST", f"/api/handoffs/{handoff['id']}/resolve", agent="alice").raise_for_status()
    # Victoria's earlier handoff, wrapped up by alice, so the next agent sees it.
    earlier_chat = system.conversation("demo-vip")
    assert "Alice" in said(earlier_chat.send("I want to talk to a person about delivery"))
    system.api(
        "POST",
        f"/api/handoffs/{handoff_of(system, earlier_chat.id)['id']}/resolve",
        agent="alice",
        json={"resolution_code": "answered", "summary": "Asked for a person; explained delivery times."},
    ).raise_for_status()
    agent = sign_in(browser, system, "alice")
    agent.select_option("#presence", "online")
    wait_until_online(system, "alice")

    vip = open_website_as(browser, system, "demo-vip")
    customer_says(vip, "I want to talk to a person about my sofa")
    expect(last_bot_message(vip)).to_contain_text("Alice", timeout=WAIT_MS)
    expect(agent.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#customer-name")).to_contain_text("Victoria")
    expect(agent.locator("#sla-clocks .clock").first).to_contain_text("First response")
    earlier = agent.locator("#history .past", has_text="explained delivery times")  # the one alice wrapped up
    expect(earlier).to_have_count(1)
    expect(earlier.locator(".past-transcript")).to_contain_text("Alice from our concierge team has joined")

    # A canned response, with her first name filled in.
    expect(agent.locator("#canned option")).to_have_count(6, timeout=WAIT_MS)  # concierge's own + 4 for all... + prompt
    agent.select_option("#canned", label="Concierge priority")
    expect(agent.locator("#reply")).to_have_value(re.compile("^Victoria, as a VIP member"))
    agent.press("#reply", "Enter")
    expect(last_bot_message(vip)).to_contain_text("Victoria, as a VIP member", timeout=WAIT_MS)

    # A private note: in the console, never in the widget.
    agent.fill("#note", "Offered free delivery on the replacement sofa.")
    agent.click("#note-form button[type=submit]")
    expect(agent.locator("#notes")).to_contain_text("Offered free delivery", timeout=WAIT_MS)
    vip.wait_for_timeout(500)  # anything sent to the widget would have arrived by now (it is a socket push)
    expect(vip.locator(".rw-conversation-container")).not_to_contain_text("Offered free delivery")

    # Another customer is pushed to her; she looks at that one, and Victoria writes: a notice.
    other = open_website_as(browser, system, "demo-standard")
    customer_says(other, "can I talk to a human please")
    expect(last_bot_message(other)).to_contain_text("Alice", timeout=WAIT_MS)
    agent.locator("#mine .handoff", has_text="demo-standard").locator("button").click()
    expect(agent.locator("#customer-badges .badge.tier-standard")).to_be_visible(timeout=WAIT_MS)
    customer_says(vip, "it is the grey three-seater, order 4417")
    expect(agent.locator("#notice")).to_contain_text(
        "demo-vip wrote in a conversation you are not looking at", timeout=WAIT_MS
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SCREENSHOTS / "console-workspace.png"))

    # Back to Victoria: wrap up with a resolution code and a summary.
    agent.locator("#mine .handoff", has_text="demo-vip").locator("button").click()
    expect(agent.locator("#transcript")).to_contain_text("order 4417", timeout=WAIT_MS)
    agent.click("#resolve")
    expect(agent.locator("#resolution-code option", has_text="replacement sent")).to_have_count(1)
    agent.select_option("#resolution-code", "replacement_sent")
    agent.fill("#summary", "Grey sofa 4417 damaged; replacement with free delivery.")
    agent.click("#wrap-up-confirm")
    expect(agent.locator("#status-line")).to_contain_text("Resolved", timeout=WAIT_MS)
    expect(last_bot_message(vip)).to_contain_text("rate", timeout=WAIT_MS)
    resolved = [
        h
        for h in system.api("GET", "/api/handoffs?status=resolved", agent="alice").json()
        if h["resolution_code"] == "replacement_sent"
    ]
    assert len(resolved) == 1 and resolved[0]["customer_id"] == "demo-vip"
    for page in (agent, vip, other):
        page.close()
