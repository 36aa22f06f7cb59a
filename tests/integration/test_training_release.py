"""Trainers end to end on a copy of the bot project: customers' messages the bot misunderstands reach
the inbox, a trainer labels them through the API, the candidate passes the gate and is loaded into the
running Rasa server, which then understands them; a wrongly labelled batch makes a candidate that is
refused, saying why; rollback brings the previous model back."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from escalation.queue.agents import agent_token
from tests.integration.conftest import running_project_copy

GIFT_WRAP = ["do you do gift wrapping", "can you gift wrap my order", "is gift wrapping available",
             "could you wrap it as a present", "can I get it gift wrapped", "do you offer gift wrap for orders",
             "I want the vase wrapped as a gift", "gift wrapping possible?"]
GIFT_WRAP_ANSWER = "Yes! Choose \"Gift wrapping\" at checkout: EUR 3.50 per order, with a card for your message."
# Shipping-cost questions labelled as password resets: a batch made wrong on purpose.
WRONG_BATCH = ["what do you charge for shipping", "shipping fee please", "how much is postage to my house",
               "what's the delivery charge", "do I pay for shipping", "how much will delivery cost me",
               "price of shipping", "is there a delivery fee", "cost to ship a sofa", "shipping costs?",
               "how expensive is delivery", "delivery price for a small order", "what is postage",
               "how much do you charge to deliver", "what are the shipping rates", "is shipping free",
               "how much to send a lamp to me", "delivery fees for rugs", "do you charge for delivery",
               "what does shipping cost to rotterdam", "shipping charge for two chairs", "cost of postage",
               "price for delivering my order", "is delivery included in the price", "how much is p&p",
               "what's the postage and packing cost", "how much do I pay for the delivery",
               "extra costs for shipping?", "delivery cost to belgium", "how pricey is shipping"]


@pytest.fixture(scope="module")
def system(trained_model: Path, tmp_path_factory):
    with running_project_copy(trained_model, tmp_path_factory.mktemp("trainer-system")) as running:
        yield running


def trainer_api(system, method, path, person="tara", **kwargs):
    headers = {"Authorization": f"Bearer {agent_token(person, system.settings.agent_token_secret)}"}
    return requests.request(method, f"{system.escalation_url}{path}", headers=headers, timeout=30, **kwargs)


def release(system, timeout: float = 600) -> dict:
    started = trainer_api(system, "POST", "/api/training/releases")
    assert started.status_code == 202, started.text
    assert trainer_api(system, "POST", "/api/training/releases").status_code == 409  # one at a time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = trainer_api(system, "GET", f"/api/training/releases/{started.json()['id']}").json()
        if run["state"] != "running":
            return run
        time.sleep(2)
    raise AssertionError("the release did not finish in time")


def live_model_name(system) -> str:
    status = requests.get(f"{system.settings.rasa_url}/status", params={"token": system.settings.rasa_token}, timeout=10)
    return Path(status.json()["model_file"]).name


def test_roles_are_separate(system):
    assert trainer_api(system, "GET", "/api/training/inbox", person="alice").status_code == 403
    assert trainer_api(system, "GET", "/api/handoffs", person="tara").status_code == 403
    assert requests.get(f"{system.escalation_url}/api/training/inbox", timeout=10).status_code == 401


def test_misunderstood_messages_are_labelled_released_and_understood(system):
    original = live_model_name(system)
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

    labelled = trainer_api(system, "POST", "/api/training/labels", json={
        "texts": GIFT_WRAP, "kind": "new_faq", "name": "gift_wrapping", "answer": GIFT_WRAP_ANSWER})
    assert labelled.status_code == 201, labelled.text
    result = labelled.json()
    assert result["held_out"] and len(result["trained"]) + len(result["held_out"]) == len(GIFT_WRAP)
    remaining = trainer_api(system, "GET", "/api/training/inbox").json()["groups"]
    assert not {t for g in remaining for t in g["texts"]} & set(GIFT_WRAP)  # reviewed: out of the inbox

    run = release(system)
    assert run["state"] == "passed", run
    assert run["report"]["loaded"] and live_model_name(system) != original
    models = trainer_api(system, "GET", "/api/training/releases").json()["models"]
    assert models["serving"] == live_model_name(system) and Path(models["previous"]).name == original
    assert run["report"]["heldout"]["per_label"]["faq/gift_wrapping"]["messages"] == len(result["held_out"])
    understood = [text for text in result["trained"] if GIFT_WRAP_ANSWER in
                  " ".join(m.get("text", "") for m in system.conversation().send(text))]
    assert len(understood) >= len(result["trained"]) - 1, understood
    new_wording = system.conversation().send("would you gift wrap it for me?")
    assert GIFT_WRAP_ANSWER in new_wording[0]["text"]

    # A batch labelled wrongly on purpose: the candidate is refused, the live model stays.
    released = live_model_name(system)
    wrong = trainer_api(system, "POST", "/api/training/labels",
                        json={"texts": WRONG_BATCH, "kind": "faq", "name": "password_reset"})
    assert wrong.status_code == 201, wrong.text
    refused = release(system)
    assert refused["state"] == "refused", refused
    reasons = " ".join(refused["report"]["refusals"])
    assert "faq/shipping_cost" in reasons or "overall" in reasons, reasons
    assert "tolerance" in reasons
    assert live_model_name(system) == released
    chart = trainer_api(system, "GET", f"/api/training/releases/{refused['id']}/confusion.png")
    assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"

    # One step back: the model that was live before the release.
    back = trainer_api(system, "POST", "/api/training/rollback")
    assert back.status_code == 200, back.text
    assert live_model_name(system) == original
    assert trainer_api(system, "POST", "/api/training/rollback").status_code == 409  # only one step
