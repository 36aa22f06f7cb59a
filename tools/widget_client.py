"""A client that speaks the website widget's protocol (rasa-webchat's) over a websocket, for the
tests and benchmarks: one browser tab's socket, without a browser.

The synchronous python-socketio client is used because python-engineio's asyncio client needs a
newer aiohttp than Rasa 3.6 pins.
"""

from __future__ import annotations

import queue
from typing import Optional

import socketio


class WidgetClient:
    """One browser tab's socket, as rasa-webchat opens it (token in the socket URL)."""

    def __init__(self, rasa_url: str, token: Optional[str] = None, timeout: float = 20) -> None:
        self.timeout = timeout
        self.client = socketio.Client(reconnection=False)
        self.confirmed: queue.Queue = queue.Queue()
        self.replies: queue.Queue = queue.Queue()
        self.client.on("session_confirm", self.confirmed.put)
        self.client.on("bot_uttered", self.replies.put)
        url = rasa_url + (f"?customer_token={token}" if token else "")
        self.client.connect(url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=timeout)

    def request_session(self, session_id: Optional[str] = None) -> str:
        self.client.emit("session_request", {"session_id": session_id})
        return self.confirmed.get(timeout=self.timeout)

    def say(self, session_id: str, text: str, custom_data: Optional[dict] = None) -> None:
        payload = {"message": text, "session_id": session_id}
        if custom_data is not None:
            payload["customData"] = custom_data
        self.client.emit("user_uttered", payload)

    def reply(self) -> dict:
        return self.replies.get(timeout=self.timeout)

    def close(self) -> None:
        self.client.disconnect()
