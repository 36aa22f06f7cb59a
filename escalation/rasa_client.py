"""What the escalation service asks of the Rasa server, over Rasa's token-protected HTTP API."""
from __future__ import annotations

from typing import Dict, List

import requests


class RasaUnavailable(RuntimeError):
    """The Rasa server did not answer, or refused the request."""


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _url(self, conversation_id: str, suffix: str) -> str:
        return f"{self._base}/conversations/{requests.utils.quote(conversation_id, safe='')}/{suffix}"

    def tracker(self, conversation_id: str) -> Dict:
        try:
            response = requests.get(self._url(conversation_id, "tracker"), params={"token": self._token},
                                    timeout=self._timeout)
        except requests.RequestException as error:
            raise RasaUnavailable(str(error)) from None
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code} for the tracker")
        return response.json()

    def append_events(self, conversation_id: str, events: List[Dict]) -> None:
        try:
            response = requests.post(self._url(conversation_id, "tracker/events"), json=events,
                                     params={"token": self._token}, timeout=self._timeout)
        except requests.RequestException as error:
            raise RasaUnavailable(str(error)) from None
        if not response.ok:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:200]}")

    def resume(self, conversation_id: str) -> None:
        """Hands the conversation back to the bot; messages sent during the handoff stay unanswered.

        After `resume`, an `action_listen` puts the dialogue back in its listening state, so the
        customer's next message is handled like any first message (rules match again)."""
        self.append_events(conversation_id, [{"event": "resume"}, {"event": "action", "name": "action_listen"}])


def transcript(tracker: Dict) -> List[Dict]:
    """User and bot messages, oldest first, as plain data (the console escapes text when showing it)."""
    lines = []
    for event in tracker.get("events", []):
        if event.get("event") in ("user", "bot") and event.get("text"):
            lines.append({"from": "customer" if event["event"] == "user" else "bot", "text": event["text"],
                          "timestamp": event.get("timestamp")})
    return lines
