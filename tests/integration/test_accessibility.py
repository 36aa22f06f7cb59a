"""The pages for people who use a keyboard or assistive technology: axe-core (npm, installed by
`make setup-dev`) finds no serious or critical violation on the website with the chat open, the
console's sign-in and workspace, the trainers' page, and the analytics page with its charts, table and a
drill-down open; and the console keeps keyboard focus on a Claim button across its live refreshes, so a
keyboard user can claim."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from common.settings import PROJECT_ROOT
from tests.integration.test_browser_journey import (  # noqa: F401
    ANIMATIONS_DONE,
    WAIT_MS,
    browser,
    open_website_as,
    sign_in,
)

AXE = PROJECT_ROOT / "escalation" / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter((v) => v.impact === "serious" || v.impact === "critical")
  .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}))"""

pytestmark = pytest.mark.browser


@pytest.fixture
def checked_browser(browser):  # noqa: F811
    """Pages in a context that lets axe-core's script in past the pages' strict CSP (only here)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make setup-dev` (npm ci with dev packages).")
    context = browser.new_context(bypass_csp=True, viewport={"width": 1440, "height": 900})
    yield CheckedPages(context)
    context.close()


class CheckedPages:
    """The context, opening pages the way the journey's helpers ask a browser to (their size is the context's)."""

    def __init__(self, context) -> None:
        self.context = context

    def new_page(self, **_size) -> Page:
        return self.context.new_page()


# Mid-fade, the widget's text has too little contrast: axe runs once the animations have finished.
def serious_violations(page: Page) -> list:
    page.evaluate(ANIMATIONS_DONE)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(SERIOUS)


def test_the_website_with_the_chat_open(checked_browser, bot):
    page = open_website_as(checked_browser, bot, "demo-standard")
    page.locator(".rw-new-message").fill("how long does delivery take?")
    page.locator(".rw-new-message").press("Enter")
    expect(page.locator(".rw-response").last).to_contain_text("delivery", timeout=WAIT_MS)
    violations = serious_violations(page)
    assert violations == [], violations


def test_the_console_signed_out_and_at_work(checked_browser, bot):
    page = checked_browser.new_page()
    page.goto(f"{bot.escalation_url}/console")
    expect(page.locator("#sign-in")).to_be_visible()
    violations = serious_violations(page)
    assert violations == [], violations
    bot.conversation("demo-standard").send("I want to talk to a person")
    page = sign_in(checked_browser, bot, "alice")
    expect(page.locator("#queue button.claim").first).to_be_visible(timeout=WAIT_MS)
    violations = serious_violations(page)
    assert violations == [], violations


def test_the_trainers_page(checked_browser, bot):
    page = checked_browser.new_page()
    page.goto(f"{bot.escalation_url}/trainer")
    page.fill("#agent", "tara")
    page.fill("#password", bot.settings.demo_agent_password)
    page.press("#password", "Enter")
    expect(page.locator("#workspace")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#models")).not_to_be_empty(timeout=WAIT_MS)
    violations = serious_violations(page)
    assert violations == [], violations


def test_the_analytics_page(checked_browser, bot):
    page = checked_browser.new_page()
    page.goto(f"{bot.escalation_url}/analytics")
    expect(page.locator("#sign-in")).to_be_visible()
    assert serious_violations(page) == []
    bot.conversation().send("how long does delivery take?")  # at least one conversation in the table
    page.fill("#agent", "lena")
    page.fill("#password", bot.settings.demo_agent_password)
    page.press("#password", "Enter")
    total = page.locator('#segments tr[data-key="total"] td[data-metric="conversations"] button')
    expect(total).to_be_visible(timeout=WAIT_MS)
    total.focus()  # a keyboard user opens the conversations behind a number
    page.keyboard.press("Enter")
    expect(page.locator("#drill-list tbody tr").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#rules-yaml")).to_have_value(re.compile("segments:"))
    violations = serious_violations(page)
    assert violations == [], violations


def test_a_keyboard_user_keeps_focus_across_refreshes_and_claims(checked_browser, bot):
    bot.clear_queue()
    chat = bot.conversation("demo-standard")
    chat.send("I want to talk to a person")
    page = sign_in(checked_browser, bot, "bob")
    claim = page.locator("#queue button.claim").first
    expect(claim).to_be_visible(timeout=WAIT_MS)
    claim.focus()
    # Wait for two refreshes of the queue (the console shows when it last refreshed).
    for _ in range(2):
        before = page.locator("#refreshed").inner_text()
        expect(page.locator("#refreshed")).not_to_have_text(before, timeout=WAIT_MS)
    assert page.evaluate("() => document.activeElement.classList.contains('claim')")
    page.keyboard.press("Enter")
    expect(page.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#mine button.open")).to_have_count(1, timeout=WAIT_MS)
