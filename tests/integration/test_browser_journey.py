"""The whole journey in headless Chromium: the website with the real rasa-webchat widget, the agent
console, and the system behind them (Rasa, action server, escalation service): the session's shared
system, with the queue cleared first so that it holds only this test's conversation.

Debian's `chromium` is driven by Playwright with `executable_path` (no browser is downloaded);
screenshots go to var/screenshots/ (the README shows copies from docs/screenshots/).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from common.crm import CustomerRepository
from common.settings import VAR_DIR

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = VAR_DIR / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
FAQ = "how long does delivery take?"
HOSTILE = '<script>window.__pwned = 1</script><b>bold?</b> <img src=x onerror="window.__pwned = 2">'
COMPLAINT = f"I'm still waiting for my refund and this is the third time I ask!!! {HOSTILE}"
WAIT_MS = 15_000
# Resolves once the page's finite animations (the widget fades its window and messages in) have finished.
ANIMATIONS_DONE = """() => Promise.all(document.getAnimations()
  .filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity)
  .map((a) => a.finished.catch(() => null)))"""


pytestmark = pytest.mark.browser


@pytest.fixture
def system(bot):
    bot.clear_queue()
    profiles = CustomerRepository.from_url(bot.settings.customer_db_url)
    vip = profiles.get("demo-vip")
    yield bot
    profiles.save_all([vip])  # the seeded profile other tests rely on


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (or set CHROMIUM_PATH).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def console_errors(page: Page) -> list:
    """Script errors and Content-Security-Policy refusals, except the widget's web font (it asks
    Google Fonts for "Inter"; the page's policy keeps third-party requests out on purpose)."""
    errors: list = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message) -> None:
        if (
            message.type == "error"
            and "Content Security Policy" in message.text
            and "fonts.googleapis.com" not in message.text
        ):
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def open_website_as(browser: Browser, system, persona: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{system.escalation_url}/")
    page.select_option("#persona", persona)  # the demo switch reloads the page as that customer
    page.wait_for_load_state("load")
    expect(page.locator("#persona")).to_have_value(persona)
    page.locator(".rw-launcher").click()
    expect(page.locator(".rw-response").first).to_contain_text("Larkspur", timeout=WAIT_MS)  # the greeting
    return page


def customer_says(page: Page, text: str) -> None:
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")


def last_bot_message(page: Page):
    return page.locator(".rw-response").last


def sign_in(browser: Browser, system, agent: str = "alice") -> Page:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{system.escalation_url}/console")
    page.fill("#agent", agent)
    page.fill("#password", system.settings.demo_agent_password)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#workspace")).to_be_visible(timeout=WAIT_MS)
    return page


def test_console_needs_an_agent(browser, system):
    page = browser.new_page()
    page.goto(f"{system.escalation_url}/console")
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#agent", "alice")
    page.fill("#password", "not-the-password")
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("wrong password", timeout=WAIT_MS)
    expect(page.locator("#workspace")).to_be_hidden()
    page.close()


def test_the_whole_journey(browser, system):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    customer = open_website_as(browser, system, "demo-vip")
    customer_errors = console_errors(customer)

    # 1. An FAQ is answered by the bot.
    customer_says(customer, FAQ)
    expect(last_bot_message(customer)).to_contain_text("Standard delivery", timeout=WAIT_MS)
    customer.evaluate(ANIMATIONS_DONE)  # the widget's message animation, for the screenshot
    customer.screenshot(path=str(SCREENSHOTS / "website.png"))

    # 2. The VIP complains: the conversation goes to the top of the console's queue, with reasons.
    agent = sign_in(browser, system)
    agent_errors = console_errors(agent)
    customer_says(customer, COMPLAINT)
    expect(last_bot_message(customer)).to_contain_text(re.compile("team|colleague"), timeout=WAIT_MS)
    top = agent.locator("#queue .handoff").first
    expect(top).to_contain_text("demo-vip", timeout=WAIT_MS)
    expect(top.locator(".badge.tier-vip")).to_be_visible()
    expect(top.locator(".reasons li").first).to_be_visible()
    expect(top.locator(".sla")).to_contain_text("SLA in")
    agent.screenshot(path=str(SCREENSHOTS / "console-queue.png"))

    # 3. The agent claims it and sees the context; the customer's HTML is shown as text.
    top.locator("button.claim").click()
    expect(agent.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#customer-badges .badge.tier-vip")).to_be_visible()
    expect(agent.locator("#reasons li").first).to_be_visible()
    expect(agent.locator("#sentiment svg")).to_be_visible()
    # The detector explains itself: the latest customer message's verdict, score and the cues that fired.
    expect(agent.locator("#dissatisfaction")).to_contain_text("Latest message: dissatisfied (score")
    hostile = agent.locator("#transcript .from-customer .text").filter(has_text="<script>")
    expect(hostile).to_have_count(1)
    expect(hostile).to_contain_text(HOSTILE)
    assert agent.locator("#transcript b, #transcript img, #transcript script").count() == 0
    assert agent.evaluate("window.__pwned") is None
    expect(last_bot_message(customer)).to_contain_text("Alice", timeout=WAIT_MS)  # a person has joined

    # 4. The agent writes; the customer sees it.
    agent.fill("#reply", "I'm so sorry about this. I can see your refund: it was sent today.")
    agent.press("#reply", "Enter")
    expect(last_bot_message(customer)).to_contain_text("it was sent today", timeout=WAIT_MS)

    # 5. The conversation survives a reload on both sides.
    customer.reload()
    customer.wait_for_selector(".rw-launcher")  # the widget has mounted and restored its state
    if customer.locator(".rw-conversation-container").count() == 0:
        customer.locator(".rw-launcher").click()
    expect(customer.locator(".rw-response").filter(has_text="it was sent today")).to_have_count(1, timeout=WAIT_MS)
    agent.reload()
    expect(agent.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#transcript .from-agent").last).to_contain_text("it was sent today")

    # 6. The customer answers; the agent sees it, and the paused bot stays silent.
    bot_messages_before = customer.locator(".rw-response").count()
    customer_says(customer, "Great, thank you! Order 4417 by the way.")
    expect(agent.locator("#transcript .from-customer").last).to_contain_text("Order 4417", timeout=WAIT_MS)
    # Rasa sends any reply before it stores the turn, so now that the agent sees the message, a reply
    # would be in the tracker: there is none after it.
    session_id = customer.evaluate("() => JSON.parse(sessionStorage.getItem('chat_session')).session_id")
    events = system.tracker(session_id)["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    assert not [e for e in events[last_user:] if e["event"] == "bot"]
    assert customer.locator(".rw-response").count() == bot_messages_before
    agent.screenshot(path=str(SCREENSHOTS / "console.png"))

    # 7. The agent resolves: the bot takes over and asks for a rating; the customer clicks 4.
    agent.click("#resolve")  # the wrap-up: a resolution code (the queue's) and a summary
    agent.select_option("#resolution-code", "refund_issued")
    agent.fill("#summary", "Refund confirmed as sent today.")
    agent.click("#wrap-up-confirm")
    expect(agent.locator("#status-line")).to_contain_text("Resolved", timeout=WAIT_MS)
    expect(last_bot_message(customer)).to_contain_text("rate", timeout=WAIT_MS)
    customer.locator(".rw-reply", has_text="4").click()
    expect(last_bot_message(customer)).to_contain_text("Thank you", timeout=WAIT_MS)

    # 8. The customer asks an FAQ and the bot answers.
    customer_says(customer, "how do I reset my password")
    expect(last_bot_message(customer)).to_contain_text("password", timeout=WAIT_MS)
    customer.screenshot(path=str(SCREENSHOTS / "website-after-handoff.png"))

    # 9. The rating is in the customer's profile.
    profile = CustomerRepository.from_url(system.settings.customer_db_url).get("demo-vip")
    assert profile.last_csat == 4
    assert customer_errors == [] and agent_errors == []
    customer.close()
    agent.close()
