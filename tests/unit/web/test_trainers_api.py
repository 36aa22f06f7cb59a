"""The trainers' API, in-process, on a copy of the bot project: inbox, labelling, reviews, releases."""

from __future__ import annotations


def misunderstood(service, conversation: str, texts) -> None:
    for text in texts:
        service.tracker.append(
            conversation,
            {
                "event": "user",
                "text": text,
                "timestamp": 1.0,
                "parse_data": {
                    "intent": {"name": "nlu_fallback", "confidence": 0.1},
                    "intent_ranking": [
                        {"name": "nlu_fallback", "confidence": 0.1},
                        {"name": "faq", "confidence": 0.08},
                    ],
                },
            },
        )


def test_inbox_labels_and_reviews(service):
    misunderstood(service, "c1", ["do you sell garden gnomes", "do you sell garden gnomes?"])
    inbox = service.api("GET", "/api/training/inbox", person="tara").json
    assert inbox["confidence_below"] == service.settings.review_confidence_below
    group = next(g for g in inbox["groups"] if "gnomes" in g["text"])
    assert group["count"] == 2 and group["predicted"] == "nlu_fallback" and group["context"]

    choices = service.api("GET", "/api/training/labels", person="tara").json
    assert "request_human" in choices["intents"] and "shipping_cost" in choices["faq_topics"]
    assert "nlu_fallback" not in choices["intents"]

    labelled = service.api(
        "POST",
        "/api/training/labels",
        person="tara",
        json={"texts": ["do you sell garden gnomes"], "kind": "out_of_scope"},
    )
    assert labelled.status == 201 and labelled.json["label"] == "out_of_scope"
    assert not [
        g for g in service.api("GET", "/api/training/inbox", person="tara").json["groups"] if "gnomes" in g["text"]
    ]
    reviews = service.api("GET", "/api/training/reviews", person="tara").json
    assert reviews[0]["text"] == "do you sell garden gnomes" and reviews[0]["trainer"] == "tara"


def test_bad_labels_are_400_with_the_reason(service):
    for body in ({"texts": "not a list"}, {}, ["x"]):
        assert service.api("POST", "/api/training/labels", person="tara", json=body).status == 400
    wrong = service.api(
        "POST", "/api/training/labels", person="tara", json={"texts": ["hello"], "kind": "faq", "name": "no_such_topic"}
    )
    assert wrong.status == 400 and "no_such_topic" in wrong.json["error"]


def test_releases_before_any_release(service):
    releases = service.api("GET", "/api/training/releases", person="tara").json
    assert releases["runs"] == [] and releases["models"]["serving"] == service.rasa.model
    service.rasa.down = True
    assert "unknown" in service.api("GET", "/api/training/releases", person="tara").json["models"]["serving"]
    assert service.api("GET", "/api/training/releases/20261124-000000", person="tara").status == 404
    assert service.api("GET", "/api/training/releases/../x/confusion.png", person="tara").status == 404
    nothing_to_roll_back = service.api("POST", "/api/training/rollback", person="tara")
    assert nothing_to_roll_back.status == 409 and "no previous model" in nothing_to_roll_back.json["error"]


def test_handoffs_because_the_bot_did_not_understand_are_found_by_their_code(service):
    misunderstood(service, "c-lost", ["wen does the sofa come", "wen does the sofa come??"])
    misunderstood(service, "c-other", ["do you ship to mars"])
    queue = service.services.queue
    queue.enqueue(
        "c-lost",
        None,
        "anonymous",
        {},
        "general",
        4,
        [{"code": "not_understood", "text": "any wording at all"}],
        3600,
        service.clock(),
    )
    queue.enqueue(
        "c-other",
        None,
        "anonymous",
        {},
        "general",
        4,
        [{"code": "asked_for_person", "text": "bot did not understand (words alone do not count)"}],
        3600,
        service.clock(),
    )
    groups = service.api("GET", "/api/training/inbox", person="tara").json["groups"]
    reasons = {g["text"]: g["reasons"] for g in groups}
    assert "handed over because the bot did not understand" in reasons["wen does the sofa come"]
    assert "handed over because the bot did not understand" not in reasons["do you ship to mars"]


def test_dissatisfaction_labels_over_the_api(service):
    texts = ["my parcel is two weeks late", "nobody answers the phone", "the lamp arrived broken"]
    marked = service.api(
        "POST", "/api/training/dissatisfaction", person="tara", json={"texts": texts, "label": "dissatisfied"}
    )
    assert marked.status == 201, marked.json
    result = marked.json
    assert result["label"] == "dissatisfied" and len(result["trained"]) + len(result["held_out"]) == 3
    assert result["held_out"]  # a batch of two or more always feeds the held-out set
    listing = service.api("GET", "/api/training/dissatisfaction", person="tara").json
    assert sum(listing["counts"].values()) == 3
    assert {r["text"] for r in listing["recent"]} == set(texts) and listing["recent"][0]["trainer"] == "tara"

    for body in ({"texts": "x", "label": "dissatisfied"}, {"texts": ["x"], "label": "furious"}, {}):
        bad = service.api("POST", "/api/training/dissatisfaction", person="tara", json=body)
        assert bad.status == 400 and bad.json["error"]
    assert (
        service.api(
            "POST", "/api/training/dissatisfaction", person="alice", json={"texts": texts, "label": "dissatisfied"}
        ).status
        == 403
    )
    assert service.api("GET", "/api/training/dissatisfaction", person=None).status == 401
