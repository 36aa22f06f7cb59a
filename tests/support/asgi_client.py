"""Drives a Sanic app in-process over ASGI (no socket, no server): what the fast web tests use.

sanic-testing would do this, but its pin of httpx conflicts with Rasa 3.6's dependencies; this is the
small part of it these tests need.
"""

from __future__ import annotations

import asyncio
import json as json_module
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import quote

from sanic import Sanic
from sanic.asgi import ASGIApp


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json_module.loads(self.body)


class AppClient:
    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        app.asgi = True
        Sanic.test_mode = True  # several apps in one process: Sanic keeps its original methods to touch up
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        self.app.router.reset()
        self.app.signal_router.reset()
        await self.app._startup()  # finalises routes and middleware, as a server start would

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: Optional[str] = None,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Response:
        return self.loop.run_until_complete(self._request(method, path, json, token, body, headers or {}))

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    async def _request(
        self, method: str, path: str, json: Any, token: Optional[str], body: Optional[bytes], headers: Dict[str, str]
    ) -> Response:
        if json is not None:
            body, headers = json_module.dumps(json).encode(), {"content-type": "application/json", **headers}
        if token:
            headers = {"authorization": f"Bearer {token}", **headers}
        raw_path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": raw_path,
            "raw_path": quote(raw_path, safe="/%").encode(),
            "query_string": query.encode(),
            "root_path": "",
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        incoming = [{"type": "http.request", "body": body or b"", "more_body": False}]
        sent: list = []

        async def receive() -> dict:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        handler = await ASGIApp.create(self.app, scope, receive, send)
        await handler()
        start = next(m for m in sent if m["type"] == "http.response.start")
        return Response(
            start["status"],
            {k.decode().lower(): v.decode() for k, v in start.get("headers", [])},
            b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
        )

    def close(self) -> None:
        self.loop.close()
