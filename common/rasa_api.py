"""What the escalation service asks of the Rasa server, over Rasa's token-protected HTTP API."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import requests

from common.names import ACTION_LISTEN, Slot

LISTEN = {"event": "action", "name": ACTION_LISTEN}


class RasaUnavailable(RuntimeError):
    """The Rasa server did not answer, or refused the request."""


class RatingNotAsked(RasaUnavailable):
    """The bot has the conversation back, but the question for the rating could not be sent."""


CONNECT_TIMEOUT_SECONDS = 3.05  # a Rasa that is down refuses at once; one that is overloaded gets this long
PAUSE_AFTER_FAILURE_SECONDS = 5.0


class RasaClient:
    """Rasa's HTTP API, synchronous (callers run it in a thread pool).

    After a call fails to reach Rasa, calls fail at once for `pause_after_failure` seconds instead of
    each waiting for its own timeout: while Rasa is down or stuck, agents get an immediate "try again"
    and the threads stay free for the database work of everyone else.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10,
        pause_after_failure: float = PAUSE_AFTER_FAILURE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._pause = pause_after_failure
        self._clock = clock
        self._unreachable_until = 0.0

    def _unavailable(self, problem: object) -> RasaUnavailable:
        """The error to raise, without the token: requests puts the whole URL, `?token=` included, in
        its messages, and these reach agents' screens and the logs."""
        return RasaUnavailable(str(problem).replace(self._token, "<RASA_TOKEN>") if self._token else str(problem))

    def _url(self, conversation_id: str, suffix: str) -> str:
        return f"{self._base}/conversations/{requests.utils.quote(conversation_id, safe='')}/{suffix}"

    def _call(self, method: str, url: str, timeout: Optional[float] = None, **kwargs: Any) -> requests.Response:
        """One request to Rasa, with the token; RasaUnavailable when Rasa cannot be reached."""
        waiting = self._unreachable_until - self._clock()
        if waiting > 0:
            raise RasaUnavailable(f"the Rasa server did not answer a moment ago (next try in {waiting:.0f} s)")
        params = {"token": self._token, **kwargs.pop("params", {})}
        try:
            response = requests.request(
                method, url, params=params, timeout=(CONNECT_TIMEOUT_SECONDS, timeout or self._timeout), **kwargs
            )
        except requests.RequestException as error:
            self._unreachable_until = self._clock() + self._pause
            raise self._unavailable(error) from None
        self._unreachable_until = 0.0
        return response

    def tracker(self, conversation_id: str) -> Dict:
        response = self._call("GET", self._url(conversation_id, "tracker"))
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code} for the tracker")
        return response.json()

    def append_events(self, conversation_id: str, events: List[Dict], deliver: bool = False) -> None:
        """Appends events to the conversation. With `deliver`, bot messages among them are also sent to
        the customer on the channel they last wrote from (the widget's socket); Rasa does this even
        while the conversation is paused, which is how agents' messages reach the customer."""
        params = {"execute_side_effects": "true", "output_channel": "latest"} if deliver else {}
        response = self._call("POST", self._url(conversation_id, "tracker/events"), json=events, params=params)
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:200]}")

    def loaded_model(self) -> str:
        """The file name of the model the Rasa server has loaded."""
        response = self._call("GET", f"{self._base}/status")
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code} for its status")
        return (response.json().get("model_file") or "").rsplit("/", 1)[-1]

    def load_model(self, model_file: str, timeout: float = 300) -> None:
        """Replaces the served model (`PUT /model`); Rasa answers once the new one is loaded."""
        response = self._call("PUT", f"{self._base}/model", timeout=timeout, json={"model_file": model_file})
        if response.status_code != 204:
            raise RasaUnavailable(f"Rasa refused the model ({response.status_code}): {response.text[:300]}")

    def execute(self, conversation_id: str, action: str) -> None:
        """Runs one bot action (e.g. a response) now, sending what it says on the latest channel."""
        response = self._call(
            "POST", self._url(conversation_id, "execute"), json={"name": action}, params={"output_channel": "latest"}
        )
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:200]}")

    def say_as_agent(
        self, conversation_id: str, text: str, agent: str, agent_name: str, automatic: bool = False
    ) -> None:
        """An agent's message: recorded in the conversation and shown in the customer's chat.
        `automatic`: sent for the agent (the greeting when a chat is assigned), not written by them: it
        does not count as their response on the SLA clocks."""
        metadata = {"agent": agent, "agent_name": agent_name, **({"automatic": True} if automatic else {})}
        self.append_events(conversation_id, [{"event": "bot", "text": text, "metadata": metadata}], deliver=True)

    def resume(self, conversation_id: str, slots: Optional[Dict] = None) -> None:
        """Hands the conversation back to the bot; messages sent during the handoff stay unanswered.

        After `resume`, an `action_listen` puts the dialogue back in its listening state, so the
        customer's next message is handled like any first message (rules match again)."""
        events = [{"event": "resume"}]
        events += [{"event": "slot", "name": name, "value": value} for name, value in (slots or {}).items()]
        self.append_events(conversation_id, events + [LISTEN])

    def hand_back_asking_for_csat(self, conversation_id: str, handoff_id: str) -> None:
        """Resumes the bot, which asks the customer to rate the help they got (utter_ask_csat, with
        1-5 buttons); the rating is then recorded by action_record_csat for this handoff."""
        self.resume(conversation_id, {Slot.CSAT_HANDOFF_ID: handoff_id})
        try:
            self.execute(conversation_id, "utter_ask_csat")
            self.append_events(conversation_id, [LISTEN])  # waiting for the answer, as after any bot turn
        except RasaUnavailable as error:
            raise RatingNotAsked(str(error)) from None
