"""Generated inputs (Hypothesis) against what the internet can reach: Rasa's REST webhook and socket.io
events, and the escalation service's routes (the public ones, and the agents' API with a valid token and
made-up ids and queries). For every input: no 5xx, no traceback in any process's log, and afterwards
the conversation goes on as usual.

The examples are random on each run (a failure prints the input that caused it); `max_examples` keeps
the whole file to well under a minute.
"""

from __future__ import annotations

import json
import string
import time
from typing import Dict

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation.queue.agents import agent_token
from tools.widget_client import WidgetClient

FUZZ = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# JSON values of every kind, nested a little, with text from all of Unicode (control characters included).
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
# Text with lone surrogates too (JSON can carry "\ud800"; Hypothesis leaves them out unless asked).
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
json_values = st.recursive(
    scalars | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
senders = st.text(alphabet=string.ascii_letters + string.digits + "._:@-", min_size=1, max_size=40) | json_values
webhook_bodies = st.fixed_dictionaries(
    {},
    optional={
        "sender": senders,
        "message": st.text(st.characters(exclude_categories=()), max_size=3000) | json_values,
        "metadata": json_values | st.fixed_dictionaries({"customer_token": any_text | json_values}),
        "input_channel": json_values,
    },
)


def log_positions(bot) -> Dict[str, int]:
    return {s.name: len(s.log_path.read_bytes()) for s in (bot.rasa, bot.actions, bot.escalation)}


def assert_no_tracebacks_since(bot, positions: Dict[str, int]) -> None:
    for service in (bot.rasa, bot.actions, bot.escalation):
        new = service.log_path.read_bytes()[positions[service.name] :].decode(errors="replace")
        assert "Traceback" not in new, f"{service.name} logged:\n{new[-4000:]}"


def assert_the_bot_still_answers(bot) -> None:
    assert bot.conversation("demo-standard").send("how much does delivery cost")


@pytest.fixture
def logs_stay_clean(bot):
    positions = log_positions(bot)
    yield
    assert_no_tracebacks_since(bot, positions)
    assert_the_bot_still_answers(bot)


def test_the_rest_webhook(bot, logs_stay_clean):
    @FUZZ
    @given(body=webhook_bodies, raw=st.none() | st.binary(max_size=200))
    def post(body, raw):
        if raw is not None:
            answer = requests.post(bot.webhook, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
        else:
            answer = requests.post(bot.webhook, json=body, timeout=30)
        assert answer.status_code < 500, (body, raw, answer.status_code, answer.text[:300])

    post()


def test_socketio_events(bot, logs_stay_clean):
    widget = WidgetClient(bot.settings.rasa_url, bot.token("demo-free"))
    session_id = widget.request_session()
    try:

        @FUZZ
        @given(
            event=st.sampled_from(["user_uttered", "session_request", "made_up_event"]),
            data=json_values | st.fixed_dictionaries({"message": json_values, "session_id": json_values}),
            own_session=st.booleans(),
        )
        def emit(event, data, own_session):
            if own_session and isinstance(data, dict) and event == "user_uttered":
                data = {**data, "session_id": session_id}
            widget.client.emit(event, data)

        emit()
        # The same socket still works: a new session, then an ordinary question answered. (The fuzzing
        # left session confirmations and replies behind; they are dropped first.)
        time.sleep(1)
        for leftovers in (widget.confirmed, widget.replies):
            while not leftovers.empty():
                leftovers.get_nowait()
        session_id = widget.request_session()
        widget.say(session_id, "how much does delivery cost")
        assert widget.reply()["text"]
    finally:
        widget.close()


def test_the_services_routes(bot, logs_stay_clean):
    token = {"Authorization": f"Bearer {agent_token('alice', bot.settings.agent_token_secret)}"}
    path_text = st.text(max_size=60).map(lambda t: requests.utils.quote(t, safe=""))
    queries = st.dictionaries(
        st.sampled_from(["status", "after", "limit", "x"]),
        st.text(max_size=40),
        max_size=3,  # no wait: long-polls
    )

    @FUZZ
    @given(
        route=st.sampled_from(
            [
                ("POST", "/api/sign-in", False),
                ("POST", "/demo/token", False),
                ("GET", "/static/{}", False),
                ("GET", "/api/handoffs/{}", True),
                ("GET", "/api/handoffs/{}/messages", True),
                ("POST", "/api/handoffs/{}/messages", True),
                ("POST", "/api/handoffs/{}/claim", True),
                ("POST", "/api/handoffs/{}/transfer", True),
                ("GET", "/api/handoffs", True),
                ("POST", "/api/sign-out", False),
            ]
        ),
        part=path_text,
        query=queries,
        body=json_values | st.fixed_dictionaries({"agent": any_text | json_values, "password": any_text | json_values}),
        raw=st.none() | st.binary(max_size=200),
    )
    def call(route, part, query, body, raw):
        method, template, signed_in = route
        url = bot.escalation_url + template.format(part)
        kwargs = {"params": query, "headers": dict(token) if signed_in else {}, "timeout": 30}
        if method == "POST":
            kwargs["data"] = raw if raw is not None else json.dumps(body)
            kwargs["headers"]["Content-Type"] = "application/json"
        answer = requests.request(method, url, **kwargs)
        assert answer.status_code < 500, (method, url, query, body, raw, answer.status_code, answer.text[:300])

    call()
