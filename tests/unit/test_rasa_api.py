"""The service's Rasa client never shows Rasa's token: requests names the whole URL, `?token=` included,
in its errors, and these reach agents' screens and the logs."""

import socket
import time

import pytest
import requests

from common.rasa_api import RasaClient, RasaUnavailable
from common.settings import free_port


@pytest.mark.parametrize("call", ["loaded_model", "tracker", "say_as_agent"])
def test_an_unreachable_rasa_is_reported_without_the_token(call):
    client = RasaClient(f"http://127.0.0.1:{free_port()}", "SECRET-RASA-TOKEN", timeout=2)
    arguments = {"loaded_model": (), "tracker": ("c-1",), "say_as_agent": ("c-1", "hello", "alice", "Alice")}[call]
    with pytest.raises(RasaUnavailable) as raised:
        getattr(client, call)(*arguments)
    assert "SECRET-RASA-TOKEN" not in str(raised.value) and "<RASA_TOKEN>" in str(raised.value)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers: a stuck Rasa."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_after_rasa_fails_to_answer_calls_fail_at_once_for_a_pause(silent_server):
    clock = Clock()
    client = RasaClient(silent_server, "t", timeout=0.3, pause_after_failure=5, clock=clock)
    started = time.monotonic()
    with pytest.raises(RasaUnavailable):
        client.tracker("c-1")  # waits for its read timeout
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    with pytest.raises(RasaUnavailable, match="next try in 5 s"):
        client.say_as_agent("c-1", "hello", "alice", "Alice")
    assert time.monotonic() - started < 0.1  # no second wait while Rasa is known to be stuck
    clock.now += 5.1
    started = time.monotonic()
    with pytest.raises(RasaUnavailable):
        client.tracker("c-1")
    assert time.monotonic() - started >= 0.3  # tried again after the pause


def test_an_answer_ends_the_pause(monkeypatch):
    clock = Clock()
    client = RasaClient(f"http://127.0.0.1:{free_port()}", "t", timeout=1, pause_after_failure=5, clock=clock)
    with pytest.raises(RasaUnavailable):
        client.loaded_model()
    clock.now += 6

    class Answer:
        ok, status_code = True, 200

        @staticmethod
        def json():
            return {"model_file": "models/m.tar.gz"}

    monkeypatch.setattr(requests, "request", lambda *args, **kwargs: Answer())
    assert client.loaded_model() == "m.tar.gz"
    assert client.loaded_model() == "m.tar.gz"  # no pause is left over
