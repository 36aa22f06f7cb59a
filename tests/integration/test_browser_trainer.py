"""The trainers' page in headless Chromium: the inbox shows what the bot misunderstood, the trainer
labels a group as a new FAQ topic, releases a candidate that passes the gate, and the live bot then
answers the question. Runs on a copy of the bot project (the page edits data/)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import running_project_copy
from tests.integration.test_browser_journey import SCREENSHOTS, browser  # noqa: F401 (the browser fixture)

SHOWROOM = ["do you have a showroom", "do you have a show room", "can I visit your showroom",
            "can I visit the showroom in amsterdam"]
ANSWER = "Our showroom is at Keizersgracht 100, Amsterdam, open Tuesday to Saturday 10:00-18:00."


@pytest.fixture(scope="module")
def system(trained_model: Path, tmp_path_factory):
    with running_project_copy(trained_model, tmp_path_factory.mktemp("trainer-browser-system")) as running:
        yield running


def test_inbox_labelling_and_release_in_the_browser(browser, system):  # noqa: F811
    for first, second in zip(SHOWROOM[::2], SHOWROOM[1::2]):
        chat = system.conversation("demo-free")
        chat.send(first)
        chat.send(second)
        chat.send("I want to speak to a human")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{system.escalation_url}/trainer")
    page.fill("#password", system.settings.demo_agent_password)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#workspace")).to_be_visible(timeout=15_000)

    card = page.locator(".group", has_text="showroom").first
    expect(card).to_be_visible(timeout=15_000)
    expect(card.locator(".badge").first).to_be_visible()  # why it is in the inbox
    card.locator("select.kind").select_option("new_faq")
    card.locator("input.new-name").fill("showroom")
    card.locator("textarea.answer").fill(ANSWER)
    for box in card.locator("input.wording").all():
        if box.is_checked() and "showroom" not in box.get_attribute("value"):
            box.uncheck()  # label only what this group is about
    card.locator("button.label").click()
    expect(card.locator(".result")).to_contain_text("added to the training data", timeout=15_000)

    page.click("#start-release")
    verdict = page.locator("#release .verdict")
    expect(verdict).to_contain_text("Passed", timeout=600_000)
    expect(page.locator("#release table.report").first).to_be_visible()
    expect(page.locator("#release img.confusion")).to_be_visible(timeout=15_000)
    expect(page.locator("#models")).to_contain_text("candidate-")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "trainer.png"), full_page=True)

    replies = system.conversation().send("do you have a showroom I can visit?")
    assert ANSWER in replies[0]["text"]
    page.close()
