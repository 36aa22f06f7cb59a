"""Custom action calls when the action server fails (rasa_plugins/action_calls.py): retried while it
cannot be reached, then run in the Rasa server, then an honest message; never retried or re-run when
the action itself failed."""

from __future__ import annotations

import asyncio
from typing import List

import aiohttp
import pytest
from rasa.shared.core.events import BotUttered
from rasa.shared.exceptions import RasaException

from rasa_plugins import action_calls


class FakeAction:
    def __init__(self) -> None:
        self.calls = 0

    def name(self) -> str:
        return "action_escalate"


class FakeTracker:
    sender_id = "c-1"


def refused() -> RasaException:
    """What Rasa raises when the action server refuses the connection (raised inside its `except`)."""
    try:
        try:
            raise aiohttp.ClientConnectionError("connection refused")
        except aiohttp.ClientConnectionError:
            raise RasaException("Failed to execute custom action 'action_escalate'. Couldn't connect")  # noqa: B904
    except RasaException as error:
        return error


def answered(status: int) -> RasaException:
    """What Rasa raises for an HTTP error status: its own ClientResponseError as the cause."""
    from rasa.utils.endpoints import ClientResponseError

    error = RasaException("Failed to execute custom action 'action_escalate'")
    error.__cause__ = ClientResponseError(status, "error", b"{}")
    return error


def run(outcomes: List[object], local=None, monkeypatch=None):
    """Runs the wrapped call; each attempt takes the next outcome (an exception to raise, or events)."""
    attempts = []

    async def call_action_server(action, *args):
        attempts.append(1)
        outcome = outcomes[len(attempts) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def in_rasa(action, *args):
        if isinstance(local, BaseException):
            raise local
        return local

    monkeypatch.setattr(action_calls, "RETRY_DELAYS_SECONDS", (0, 0, 0))
    monkeypatch.setattr(action_calls, "run_in_rasa", in_rasa)
    wrapped = action_calls.resilient(call_action_server)
    result = asyncio.run(wrapped(FakeAction(), None, None, FakeTracker(), None))
    return result, len(attempts)


def test_an_answer_after_a_refused_connection_is_used(monkeypatch):
    result, attempts = run([refused(), ["events"]], monkeypatch=monkeypatch)
    assert result == ["events"] and attempts == 2


def test_an_action_server_that_stays_down_is_replaced_by_the_rasa_server(monkeypatch):
    result, attempts = run([refused() for _ in range(4)], local=["from rasa"], monkeypatch=monkeypatch)
    assert result == ["from rasa"] and attempts == 4  # one call and three retries


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxy_saying_the_action_server_is_gone_counts_as_down(monkeypatch, status):
    result, _ = run([answered(status)] * 4, local=["from rasa"], monkeypatch=monkeypatch)
    assert result == ["from rasa"]


def test_a_timeout_is_neither_retried_nor_run_again(monkeypatch):
    # The action server may have done the work; only the honest message is safe.
    result, attempts = run([asyncio.TimeoutError()], local=["from rasa"], monkeypatch=monkeypatch)
    assert attempts == 1 and len(result) == 1 and isinstance(result[0], BotUttered)
    assert "can't reach our systems" in result[0].text


@pytest.mark.parametrize("status", [400, 401, 404, 500])
def test_a_failing_action_is_not_retried_nor_run_twice(monkeypatch, status):
    with pytest.raises(RasaException):
        run([answered(status)], local=["from rasa"], monkeypatch=monkeypatch)


def test_when_nothing_can_run_the_customer_is_told_honestly(monkeypatch):
    result, _ = run([refused() for _ in range(4)], local=RuntimeError("database down"), monkeypatch=monkeypatch)
    assert len(result) == 1 and isinstance(result[0], BotUttered)
    assert "can't reach our systems" in result[0].text and "support@" in result[0].text


def test_install_is_idempotent():
    from rasa.core.actions.action import RemoteAction

    action_calls.install()
    first = RemoteAction.run
    action_calls.install()
    assert RemoteAction.run is first and first.__wrapped__ is not None
