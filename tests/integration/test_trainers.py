"""Trainers end to end on a copy of the bot project (they change its data and model), in one running
system and with two real releases: customers' messages the bot misunderstands reach the inbox; a
trainer labels them (over the API, and in the trainers' page in Chromium), releases a candidate that
passes the gate and is loaded into the running Rasa server, which then understands them; a wrongly
labelled batch makes a candidate that is refused, saying why; rollback brings the first model back.
The dissatisfaction detector learns the same way: calm complaints marked "dissatisfied" raise its
score in the released model, and a batch that marks their paraphrases "not dissatisfied" makes a
candidate whose detector misses a held-out complaint the live one caught: refused.
The steps build on each other, so they run in order inside one test (test workers may reorder tests)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.integration.conftest import running_project_copy
from tests.integration.test_browser_journey import SCREENSHOTS, browser  # noqa: F401 (the browser fixture)

GIFT_WRAP = [
    "do you do gift wrapping",
    "can you gift wrap my order",
    "is gift wrapping available",
    "could you wrap it as a present",
    "can I get it gift wrapped",
    "do you offer gift wrap for orders",
    "I want the vase wrapped as a gift",
    "gift wrapping possible?",
]
GIFT_WRAP_ANSWER = 'Yes! Choose "Gift wrapping" at checkout: EUR 3.50 per order, with a card for your message.'
# Shipping-cost questions labelled as password resets: a batch made wrong on purpose.
WRONG_BATCH = [
    "what do you charge for shipping",
    "shipping fee please",
    "how much is postage to my house",
    "what's the delivery charge",
    "do I pay for shipping",
    "how much will delivery cost me",
    "price of shipping",
    "is there a delivery fee",
    "cost to ship a sofa",
    "shipping costs?",
    "how expensive is delivery",
    "delivery price for a small order",
    "what is postage",
    "how much do you charge to deliver",
    "what are the shipping rates",
    "is shipping free",
    "how much to send a lamp to me",
    "delivery fees for rugs",
    "do you charge for delivery",
    "what does shipping cost to rotterdam",
    "shipping charge for two chairs",
    "cost of postage",
    "price for delivering my order",
    "is delivery included in the price",
    "how much is p&p",
    "what's the postage and packing cost",
    "how much do I pay for the delivery",
    "extra costs for shipping?",
    "delivery cost to belgium",
    "how pricey is shipping",
]


# Calm complaints (no angry word): what a lexicon misses and the trainers' labels teach the detector.
COMPLAINTS = [
    "my order still has not arrived after three weeks",
    "nobody has answered my emails about the refund",
    "the sofa was delivered with a scratch on the armrest",
    "I was charged twice for the same lamp",
    "the tracking page has said processing for ten days",
    "I returned the chair a month ago and I am still waiting for my money",
    "the courier never came on the day you gave me",
    "this is the third time I am asking about my delivery",
    "the table you sent is not the colour I ordered",
    "I have called four times and the problem is still not fixed",
    "the replacement part you promised never came",
    "my cancellation was confirmed but you shipped the order anyway",
    "the rug arrived wet and smells of damp",
    "half of the screws were missing from the wardrobe box",
    "you said someone would call me back yesterday and nobody did",
    "my discount code was not applied and I paid full price",
]
# Paraphrases of a held-out complaint (the hash rule holds out "my discount code was not applied..."),
# marked "not dissatisfied" on purpose.
WRONG_FEELINGS = [
    "my voucher code did not work and I paid the full price",
    "the discount was not applied so I paid too much",
    "the promo code was ignored at checkout and I was charged full price",
    "my coupon did not apply and I paid the normal price",
    "I paid full price because the discount code failed",
    "the code for 10 percent off was not taken off my bill",
    "you did not apply my discount and charged me the full amount",
    "the sale price was not applied to my order",
]

SHOWROOM = [
    "do you have a showroom",
    "do you have a show room",
    "can I visit your showroom",
    "can I visit the showroom in amsterdam",
]
ANSWER = "Our showroom is at Keizersgracht 100, Amsterdam, open Tuesday to Saturday 10:00-18:00."


RELEASE_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def system(trained_model: Path, tmp_path_factory):
    with running_project_copy(trained_model, tmp_path_factory.mktemp("trainer-system")) as running:
        yield running


def trainer_api(system, method, path, person="tara", **kwargs):
    return system.api(method, path, agent=person, **kwargs)


def release(system) -> dict:
    started = trainer_api(system, "POST", "/api/training/releases")
    assert started.status_code == 202, started.text
    assert trainer_api(system, "POST", "/api/training/releases").status_code == 409  # one at a time
    deadline = time.monotonic() + RELEASE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = trainer_api(system, "GET", f"/api/training/releases/{started.json()['id']}").json()
        if run["state"] != "running":
            return run
        time.sleep(2)  # polling for the condition: a release takes minutes
    raise AssertionError("the release did not finish in time")


def detector_probability(system, text: str) -> float:
    """What the live model's dissatisfaction detector says of `text` (Rasa's own parse endpoint)."""
    parsed = requests.post(
        f"{system.settings.rasa_url}/model/parse",
        params={"token": system.settings.rasa_token},
        json={"text": text},
        timeout=30,
    )
    return parsed.json()["sentiment"]["model_probability"]


def live_model_name(system) -> str:
    status = requests.get(
        f"{system.settings.rasa_url}/status", params={"token": system.settings.rasa_token}, timeout=10
    )
    return Path(status.json()["model_file"]).name


def test_roles_are_separate(system):
    assert trainer_api(system, "GET", "/api/training/inbox", person="alice").status_code == 403
    assert trainer_api(system, "GET", "/api/handoffs", person="tara").status_code == 403
    assert requests.get(f"{system.escalation_url}/api/training/inbox", timeout=10).status_code == 401


@pytest.mark.browser
def test_the_trainers_loop(browser, system):  # noqa: F811
    original = live_model_name(system)
    gift_wrap = misunderstood_messages_reach_the_inbox_and_are_labelled(system)
    complaints, before = complaints_are_marked_dissatisfied(system)
    a_trainer_labels_and_releases_in_the_browser(browser, system, original, gift_wrap)
    the_released_detector_learned_the_complaints(system, complaints, before)
    wrong_feelings_make_a_candidate_that_is_refused(system)
    a_wrongly_labelled_batch_is_refused_and_rollback_goes_one_step_back(system, original)


def complaints_are_marked_dissatisfied(system) -> tuple:
    marked = trainer_api(
        system, "POST", "/api/training/dissatisfaction", json={"texts": COMPLAINTS, "label": "dissatisfied"}
    )
    assert marked.status_code == 201, marked.text
    result = marked.json()
    assert len(result["held_out"]) == 4 and len(result["trained"]) == 12, result
    again = trainer_api(
        system, "POST", "/api/training/dissatisfaction", json={"texts": COMPLAINTS[:1], "label": "not_dissatisfied"}
    ).json()
    assert again["skipped"] and "already labelled dissatisfied" in again["skipped"][0]["reason"], again
    return result, {text: detector_probability(system, text) for text in result["trained"]}


def misunderstood_messages_reach_the_inbox_and_are_labelled(system) -> dict:
    # Customers ask about gift wrapping, which the bot knows nothing about; they rephrase or ask for a
    # person. Each question comes twice, from different customers and written a little differently.
    for variant in (str, lambda text: text.capitalize() + "?"):
        for first, second in zip(GIFT_WRAP[::2], GIFT_WRAP[1::2]):
            chat = system.conversation("demo-standard")
            chat.send(variant(first))
            chat.send(variant(second))
            chat.send("can I talk to a person")
    inbox = trainer_api(system, "GET", "/api/training/inbox").json()["groups"]
    flagged = {text for group in inbox for text in group["texts"]}
    assert set(GIFT_WRAP) <= flagged, inbox
    group = next(g for g in inbox if "gift" in g["text"])
    assert group["count"] >= 2 and len(group["wordings"]) >= 1 and group["reasons"] and group["context"]
    assert any(line.get("flagged") for line in group["context"])

    labelled = trainer_api(
        system,
        "POST",
        "/api/training/labels",
        json={"texts": GIFT_WRAP, "kind": "new_faq", "name": "gift_wrapping", "answer": GIFT_WRAP_ANSWER},
    )
    assert labelled.status_code == 201, labelled.text
    result = labelled.json()
    assert result["held_out"] and len(result["trained"]) + len(result["held_out"]) == len(GIFT_WRAP)
    remaining = trainer_api(system, "GET", "/api/training/inbox").json()["groups"]
    assert not {t for g in remaining for t in g["texts"]} & set(GIFT_WRAP)  # reviewed: out of the inbox
    return result


def a_trainer_labels_and_releases_in_the_browser(pages, system, original: str, gift_wrap: dict) -> None:
    for first, second in zip(SHOWROOM[::2], SHOWROOM[1::2]):
        chat = system.conversation("demo-free")
        chat.send(first)
        chat.send(second)
        chat.send("I want to speak to a human")
    page = pages.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{system.escalation_url}/trainer")
    page.fill("#agent", "tara")
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
    card.locator("button.feeling.not_dissatisfied").click()  # asking about a showroom is not a complaint
    expect(card.locator(".feeling-result")).to_contain_text("Marked not dissatisfied", timeout=15_000)

    page.click("#start-release")
    verdict = page.locator("#release .verdict")
    expect(verdict).to_contain_text("Passed", timeout=RELEASE_TIMEOUT_SECONDS * 1000)
    expect(page.locator("#release table.report").first).to_be_visible()
    expect(page.locator("#release img.confusion")).to_be_visible(timeout=15_000)
    expect(page.locator("#release")).to_contain_text("Dissatisfaction detector on")  # the gate's detector check
    expect(page.locator("#models")).to_contain_text("candidate-")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "trainer.png"), full_page=True)
    page.close()

    # The released model is live and understands both batches: the page's and the API's.
    assert live_model_name(system) != original
    models = trainer_api(system, "GET", "/api/training/releases").json()
    assert models["models"]["serving"] == live_model_name(system)
    assert Path(models["models"]["previous"]).name == original
    report = models["runs"][0]["report"]
    held_out = gift_wrap["held_out"]
    assert report["heldout"]["per_label"]["faq/gift_wrapping"]["messages"] == len(held_out)
    assert ANSWER in system.conversation().send("do you have a showroom I can visit?")[0]["text"]
    trained = gift_wrap["trained"]
    understood = [
        text
        for text in trained
        if GIFT_WRAP_ANSWER in " ".join(m.get("text", "") for m in system.conversation().send(text))
    ]
    assert len(understood) >= len(trained) - 1, understood
    assert GIFT_WRAP_ANSWER in system.conversation().send("would you gift wrap it for me?")[0]["text"]


def the_released_detector_learned_the_complaints(system, complaints: dict, before: dict) -> None:
    report = trainer_api(system, "GET", "/api/training/releases").json()["runs"][0]["report"]
    detector = report["dissatisfaction"]
    assert detector["per_label"]["dissatisfied"]["messages"] == len(complaints["held_out"]), detector
    after = {text: detector_probability(system, text) for text in before}
    assert all(after[text] > before[text] for text in before), (before, after)


def wrong_feelings_make_a_candidate_that_is_refused(system) -> None:
    released = live_model_name(system)
    marked = trainer_api(
        system, "POST", "/api/training/dissatisfaction", json={"texts": WRONG_FEELINGS, "label": "not_dissatisfied"}
    )
    assert marked.status_code == 201, marked.text
    refused = release(system)
    assert refused["state"] == "refused", refused
    reasons = " ".join(refused["report"]["refusals"])
    assert "dissatisfaction detector: dissatisfied:" in reasons, reasons
    assert live_model_name(system) == released


def a_wrongly_labelled_batch_is_refused_and_rollback_goes_one_step_back(system, original: str) -> None:
    released = live_model_name(system)
    wrong = trainer_api(
        system, "POST", "/api/training/labels", json={"texts": WRONG_BATCH, "kind": "faq", "name": "password_reset"}
    )
    assert wrong.status_code == 201, wrong.text
    refused = release(system)
    assert refused["state"] == "refused", refused
    reasons = " ".join(refused["report"]["refusals"])
    assert "faq/shipping_cost" in reasons or "overall" in reasons, reasons
    assert "tolerance" in reasons
    assert live_model_name(system) == released
    chart = trainer_api(system, "GET", f"/api/training/releases/{refused['id']}/confusion.png")
    assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"

    back = trainer_api(system, "POST", "/api/training/rollback")
    assert back.status_code == 200, back.text
    assert live_model_name(system) == original
    assert trainer_api(system, "POST", "/api/training/rollback").status_code == 409  # only one step
