"""The analytics page (/analytics) as a team lead uses it, in headless Chromium against the session's shared
system: conversations played through the real bot (FAQs the bot answers, a VIP handed to a person who answers,
resolves and gets a rating), then the lead `lena` signs in, changes the period and the slice, drills down from
a number to the conversations behind it and into one conversation, exports both CSV files, and replays the
conversations through candidate rules with one changed threshold. Every number checked on the page is the
API's own (the page shows what the service computed), and every drill-down holds as many conversations as
the number it came from.

The populated page is saved as var/screenshots/analytics.png (the README's copy is docs/screenshots/).
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from common.crm import CustomerRepository
from tests.integration.test_browser_journey import (  # noqa: F401
    FAQ,
    SCREENSHOTS,
    WAIT_MS,
    browser,
    console_errors,
)

pytestmark = pytest.mark.browser

ASK_FOR_PERSON = "I want to talk to a person"
AGENT_REPLY = "Hello, this is Alice from the concierge team; I'm looking at it now."
DATA_WAIT_S = 60


def summary(bot, **params) -> dict:
    response = bot.api("GET", "/api/analytics/summary", agent="lena", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def conversation_ids(bot, **params) -> list:
    response = bot.api("GET", "/api/analytics/conversations", agent="lena", params=params)
    assert response.status_code == 200, response.text
    return [c["conversation_id"] for c in response.json()["conversations"]]


def wait_for_analytics(bot, conversation_id: str, metric: str, **params) -> None:
    """Until the conversation counts under `metric` (analytics is read from the stores, not on every event)."""
    deadline = time.monotonic() + DATA_WAIT_S
    while conversation_id not in conversation_ids(bot, key="total", metric=metric, **params):
        assert time.monotonic() < deadline, f"{conversation_id} never counted as {metric}"
        time.sleep(1)


@pytest.fixture(scope="module")
def played(bot):
    """Conversations through the real bot and queue: two FAQs the bot answers alone (anonymous visitors, so that
    no other test's conversation of the same customer counts as a reopening), one of a standard customer, and a
    VIP who asks for a person, is answered and resolved by alice, and rates the help 5."""
    customers = CustomerRepository.from_url(bot.settings.customer_db_url)
    vip_before = customers.get("demo-vip")
    bot.clear_queue()
    faqs = []
    for _ in range(2):
        chat = bot.conversation()
        assert any("deliver" in reply.get("text", "").lower() for reply in chat.send(FAQ))
        faqs.append(chat.id)
    standard = bot.conversation("demo-standard")
    standard.send(FAQ)
    vip = bot.conversation("demo-vip")
    vip.send(ASK_FOR_PERSON)
    handoff = next(h for h in bot.api("GET", "/api/handoffs?status=waiting").json() if h["conversation_id"] == vip.id)
    bot.api("POST", f"/api/handoffs/{handoff['id']}/claim").raise_for_status()
    bot.api("POST", f"/api/handoffs/{handoff['id']}/messages", json={"text": AGENT_REPLY}).raise_for_status()
    bot.api("POST", f"/api/handoffs/{handoff['id']}/resolve").raise_for_status()
    vip.send("5")  # the answer to the rating question the bot asks at resolution
    assert bot.api("GET", f"/api/handoffs/{handoff['id']}").json()["csat"] == 5
    today = summary(bot)["to"]  # the service's "today", in the rules' time zone
    wait_for_analytics(bot, vip.id, "csat_positive", **{"from": today, "to": today, "by": "none"})
    for faq in faqs:
        wait_for_analytics(bot, faq, "contained", **{"from": today, "to": today, "by": "none"})
    yield {"faqs": faqs, "standard_faq": standard.id, "vip": vip.id, "today": today}
    customers.save_all([vip_before])  # the seeded profile other tests rely on


def sign_in_to_analytics(chromium: Browser, bot, who: str) -> Page:
    page = chromium.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)  # a laptop
    page.goto(f"{bot.escalation_url}/analytics")
    page.fill("#agent", who)
    page.fill("#password", bot.settings.demo_agent_password)
    page.press("#password", "Enter")
    return page


def figure(page: Page, key: str, metric: str):
    return page.locator(f'#segments tr[data-key="{key}"] td[data-metric="{metric}"]')


def shown_count(number: int) -> str:
    return f"{number:,}"


def shown_rate(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def download(page: Page, button: str) -> list:
    with page.expect_download() as info:
        page.click(button)
    saved = Path(info.value.path())
    return list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))


def test_a_lead_reads_drills_down_exports_and_tries_a_rules_change(browser, bot, played):  # noqa: F811
    today = played["today"]
    page = sign_in_to_analytics(browser, bot, "lena")
    errors = console_errors(page)
    expect(page.locator("#workspace")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#agent-name")).to_contain_text("Lena")

    # The default period: the service's last 7 days, sliced by tier, headline numbers against the period before.
    expect(page.locator("#headline li")).to_have_count(8, timeout=WAIT_MS)
    week = summary(bot, by="tier")
    expect(page.locator("#from")).to_have_value(week["from"])
    expect(page.locator("#to")).to_have_value(week["to"])
    conversations_card = page.locator('#headline li[data-metric="conversations"]')
    expect(conversations_card.locator(".card-value")).to_have_text(shown_count(week["total"]["conversations"]))
    expect(conversations_card.locator(".card-change")).to_contain_text(
        f"was {shown_count(week['previous']['conversations'])}"
    )
    expect(page.locator("#segments tr[data-key=vip]")).to_be_visible()

    # A period with no conversations: zero counts, and every rate a dash that says "no data".
    page.fill("#from", "2020-01-01")
    page.fill("#to", "2020-01-07")
    expect(page.locator("#period")).to_contain_text("2020-01-01 to 2020-01-07 (7 days)", timeout=WAIT_MS)
    expect(figure(page, "total", "conversations")).to_have_text("0", timeout=WAIT_MS)
    empty_rate = figure(page, "total", "containment_rate").locator(".no-data")
    expect(empty_rate).to_have_attribute("title", "no data")
    expect(empty_rate).to_contain_text("–")

    # Today only, sliced by channel, then by tier: the page shows the service's numbers.
    page.fill("#from", today)
    page.fill("#to", today)
    page.select_option("#by", "channel")
    expect(page.locator("#segments thead th").first).to_have_text("channel", timeout=WAIT_MS)
    by_channel = summary(bot, **{"from": today, "to": today, "by": "channel"})
    for group in by_channel["groups"]:
        expect(figure(page, group["key"], "conversations")).to_have_text(shown_count(group["conversations"]))
    page.select_option("#by", "tier")
    expect(page.locator("#segments thead th").first).to_have_text("tier", timeout=WAIT_MS)
    assert re.search(rf"from={today}&to={today}&by=tier", page.url)
    by_tier = summary(bot, **{"from": today, "to": today, "by": "tier"})
    vip = next(g for g in by_tier["groups"] if g["key"] == "vip")
    anonymous = next(g for g in by_tier["groups"] if g["key"] == "anonymous")
    assert vip["handoffs"] >= 1 and anonymous["contained"] >= 2
    expect(figure(page, "vip", "handoffs")).to_have_text(shown_count(vip["handoffs"]))
    expect(figure(page, "vip", "csat_positive_rate")).to_have_text(shown_rate(vip["csat_positive_rate"]))
    expect(figure(page, "anonymous", "containment_rate")).to_have_text(shown_rate(anonymous["containment_rate"]))
    expect(figure(page, "total", "conversations")).to_have_text(shown_count(by_tier["total"]["conversations"]))
    # The charts (chart.js, served from the service under the page's CSP) draw the same numbers.
    bars = page.evaluate("() => Chart.getChart('bar-chart').data.datasets[0].data")
    assert bars == [g["conversations"] for g in by_tier["groups"]]
    page.select_option("#bar-metric", "containment_rate")
    bars = page.evaluate("() => Chart.getChart('bar-chart').data.datasets[0].data")
    assert bars == [
        None if g["containment_rate"] is None else round(g["containment_rate"] * 100, 1) for g in by_tier["groups"]
    ]
    per_day = page.evaluate("() => Chart.getChart('line-chart').data.datasets.map((d) => d.data)")
    assert per_day == [[by_tier["total"]["conversations"]], [by_tier["total"]["handoffs"]]]
    table_keys = page.locator("#segments tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.key)")
    assert table_keys == [g["key"] for g in by_tier["groups"]] + ["total"]

    # The table as CSV: one row per group, then the total, with the numbers on the page.
    rows = download(page, "#export-table")
    assert [row["key"] for row in rows] == table_keys
    assert int(next(row for row in rows if row["key"] == "vip")["handoffs"]) == vip["handoffs"]
    assert int(rows[-1]["conversations"]) == by_tier["total"]["conversations"]

    # Drill down from the VIPs' handoffs to the conversations behind the number, then into the VIP's conversation.
    figure(page, "vip", "handoffs").locator("button").click()
    expect(page.locator("#drill")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#drill-count")).to_contain_text(
        f"{vip['handoffs']} conversation{'' if vip['handoffs'] == 1 else 's'}"
    )
    expect(page.locator("#drill-list tbody tr")).to_have_count(vip["handoffs"])
    expect(page.locator("#drill-title")).to_be_focused()
    listed = page.locator("#drill-list tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.conversation)")
    assert played["vip"] in listed and not set(played["faqs"]) & set(listed)

    drilled = download(page, "#export-drill")
    assert len(drilled) == vip["handoffs"]
    assert played["vip"] in [row["conversation_id"] for row in drilled]

    page.locator(f'#drill-list tr[data-conversation="{played["vip"]}"] button').click()
    expect(page.locator("#conversation")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#conversation-title")).to_contain_text(played["vip"])
    expect(page.locator("#transcript .from-customer").first).to_contain_text(ASK_FOR_PERSON)
    expect(page.locator("#transcript .from-agent", has_text=AGENT_REPLY)).to_have_count(1)
    facts = page.locator("#facts")
    expect(facts.locator("dt:text-is('Tier') + dd")).to_have_text("vip")
    expect(facts.locator("dt:text-is('CSAT') + dd")).to_have_text("5")

    # The FAQs were contained: the headline's drill-down lists them.
    page.locator('#headline li[data-metric="containment_rate"] button').click()
    expect(page.locator("#drill-title")).to_contain_text("Containment rate", timeout=WAIT_MS)
    for faq in played["faqs"]:
        expect(page.locator(f'#drill-list tr[data-conversation="{faq}"]')).to_have_count(1)
    expect(page.locator("#misunderstood")).not_to_be_empty()

    # What-if: the live rules with one threshold changed (a standard customer's conversation is "long" from the
    # first message on), replayed over the last day: more handoffs than today, and the standard customer's FAQ,
    # which the bot answered, among the conversations that would now reach a person; nothing is saved.
    live = page.locator("#rules-yaml").input_value()
    rules = yaml.safe_load(live)
    rules["segments"]["standard"]["handover"]["turns_at_least"] = 1
    page.fill("#rules-yaml", yaml.safe_dump(rules))
    page.fill("#whatif-days", "1")
    page.click("#replay")
    result = page.locator("#whatif-result")
    expect(result.locator("table.whatif-compare")).to_be_visible(timeout=WAIT_MS * 4)
    handoffs = result.locator("table.whatif-compare tbody tr").first
    expect(handoffs.locator("th")).to_have_text("Handoffs")
    today_rules, candidate = (int(text.replace(",", "")) for text in handoffs.locator("td").all_inner_texts()[:2])
    assert candidate > today_rules
    expect(handoffs.locator("td.changed")).to_have_text(f"+{candidate - today_rules}")
    changed = result.locator(f'table.whatif-changed tr[data-conversation="{played["standard_faq"]}"] td')
    expect(changed.nth(2)).to_contain_text("stay")
    expect(changed.nth(3)).to_contain_text("handover, to general")
    assert bot.api("GET", "/api/analytics/rules", agent="lena").json()["yaml"] == live  # nothing was saved

    # Candidate rules with a mistake: every problem is listed, nothing is replayed.
    rules["segments"]["vip"]["sla_minutes"] = "soon"
    page.fill("#rules-yaml", yaml.safe_dump(rules))
    page.click("#replay")
    expect(page.locator("#whatif-problems li").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#whatif-problems")).to_contain_text("sla_minutes")
    expect(page.locator("#whatif-result")).to_be_empty()

    # The populated page, for the README (with the last good replay on it).
    page.click("#reset-rules")
    page.click("#replay")
    expect(result.locator("table.whatif-compare")).to_be_visible(timeout=WAIT_MS * 4)
    page.click("#close-conversation")
    # Readable on a laptop: wide tables scroll inside their panels, the page itself never sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "analytics.png"), full_page=True)
    assert errors == []


def test_trainers_may_use_the_page(browser, bot):  # noqa: F811
    page = sign_in_to_analytics(browser, bot, "tara")
    expect(page.locator("#workspace")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#headline li")).to_have_count(8, timeout=WAIT_MS)


def test_agents_are_sent_away(browser, bot):  # noqa: F811
    page = sign_in_to_analytics(browser, bot, "alice")
    expect(page.locator("#sign-in-error")).to_contain_text("This page is for leads", timeout=WAIT_MS)
    expect(page.locator("#workspace")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('agent_token')") is None  # her token is not kept
