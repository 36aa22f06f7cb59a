"""Which messages reach the trainers' inbox, and how they are grouped."""

from training.inbox import build_inbox, flag_messages


def user(text, intent, confidence=0.9, topic=None, ranking=None):
    parse = {"intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking or []}
    if topic:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": f"faq/{topic}"}}}
    return {"event": "user", "text": text, "parse_data": parse, "timestamp": 1.0}


def bot(text):
    return {"event": "bot", "text": text}


def conversation(cid, *items, start=0):
    return [(start + i, cid, item["event"], item) for i, item in enumerate(items)]


EVENTS = (
    conversation(
        "a",
        user(
            "wen does the sofa come",
            "nlu_fallback",
            0.14,
            ranking=[{"name": "nlu_fallback", "confidence": 0.14}, {"name": "faq", "confidence": 0.1}],
        ),
        bot("Sorry, I didn't quite understand"),
        user("when does my sofa arrive", "faq", 0.8, "delivery_times"),
    )
    + conversation(
        "b",
        user("wen does teh sofa come", "nlu_fallback", 0.14),
        bot("Sorry?"),
        user("talk to a person", "request_human", 0.95),
        start=10,
    )
    + conversation("c", user("how much is shipping", "faq", 0.95, "shipping_cost"), bot("EUR 4.95"), start=20)
    + conversation(
        "d",
        user("my voucher thing is broken", "faq", 0.2, "promo_code"),
        bot("Promo codes..."),
        user("the voucher thing is still broken", "faq", 0.6, "promo_code"),
        start=30,
    )
    + conversation("e", user('/rate_csat{"csat_score": 4}', "rate_csat", 1.0), start=40)
)


def test_what_gets_flagged_and_why():
    flagged = {f.text: f for f in flag_messages(EVENTS, confidence_below=0.5)}
    assert set(flagged) == {"wen does the sofa come", "wen does teh sofa come", "my voucher thing is broken"}
    assert "fallback" in flagged["wen does the sofa come"].reasons[0]
    assert "asked for a person next" in " ".join(flagged["wen does teh sofa come"].reasons)
    voucher = flagged["my voucher thing is broken"]
    assert voucher.predicted == "faq/promo_code" and voucher.confidence == 0.2
    assert any("rephrased" in r for r in voucher.reasons)
    assert [c["text"] for c in voucher.context if c.get("flagged")] == ["my voucher thing is broken"]


def test_near_duplicates_are_one_group_and_reviewed_ones_are_left_out():
    groups = build_inbox(EVENTS, 0.5, set(), set())
    assert [g.count for g in groups] == [2, 1]
    sofa = groups[0]
    assert set(sofa.texts) == {"wen does the sofa come", "wen does teh sofa come"}
    assert sofa.predicted == "nlu_fallback" and sofa.best_guess == "faq"
    left = build_inbox(EVENTS, 0.5, set(), {"wen does the sofa come", "wen does teh sofa come"})
    assert [g.text for g in left] == ["my voucher thing is broken"]


def test_handoffs_because_the_bot_did_not_understand_bring_their_last_message():
    events = conversation("f", user("the thingy with the stuff", "faq", 0.7, "exchange"), bot("Exchanges..."))
    assert build_inbox(events, 0.5, set(), set()) == []
    groups = build_inbox(events, 0.5, {"f"}, set())
    assert groups and "handed over because the bot did not understand" in groups[0].reasons


def test_rephrasing_and_a_person_two_messages_later():
    from training.inbox import rephrased

    assert rephrased("do you do gift wrapping", "can you gift wrap my order")
    assert not rephrased("how much is shipping", "thanks, bye")
    events = conversation(
        "g",
        user("I want the vase wrapped as a gift", "faq", 0.9, "exchange"),
        bot("Exchanges"),
        user("gift wrapping possible?", "faq", 0.9, "exchange"),
        bot("Exchanges"),
        user("talk to a person", "request_human", 0.95),
    )
    flagged = {f.text: f.reasons for f in flag_messages(events, 0.5)}
    assert "the customer asked for a person soon after" in flagged["I want the vase wrapped as a gift"]
    assert "the customer asked for a person next" in flagged["gift wrapping possible?"]


def test_messages_that_mean_the_same_are_one_group_with_a_count():
    showroom = ("do you have a show room", "can I visit the showroom in amsterdam", "can I visit your showroom")
    others = ("how do I reset my password", "I cannot log in", "where is my order", "where is my refund")
    events = []
    for n, text in enumerate(showroom + others + ("can I visit your showroom",)):
        events += conversation(f"s{n}", user(text, "nlu_fallback", 0.1), bot("Sorry?"), start=100 + 10 * n)
    groups = build_inbox(events, 0.5, set(), set())
    assert groups[0].count == 4 and set(groups[0].texts) == set(showroom)
    assert sorted(g.count for g in groups[1:]) == [1, 1, 1, 1]  # different questions stay apart


def test_messages_of_a_conversation_rated_low_are_offered_for_review():
    events = conversation(
        "r",
        user("the table you sent is the wrong colour", "faq", 0.9, "exchange"),
        bot("Exchanges..."),
        user("2", "rate_csat", 0.99),
        start=200,
    ) + conversation("ok", user("the lamp you sent is the wrong colour", "faq", 0.9, "exchange"), start=300)
    groups = build_inbox(events, 0.5, set(), set(), rated_low={"r": 2})
    assert [g.text for g in groups] == ["the table you sent is the wrong colour"]
    assert groups[0].reasons == {"its conversation was rated 2/5": 1}
