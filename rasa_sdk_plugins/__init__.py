"""Plug-ins of the action server (`rasa run actions`). rasa_sdk imports a package of exactly this name at
start and calls `init_hooks`; its `attach_sanic_app_extensions` hook gets the server's Sanic app.

The one plug-in here makes the action server answer only Rasa: every route but `/health` needs
`Authorization: Bearer <ACTION_SERVER_TOKEN>`, which Rasa sends from bot/endpoints.yml. Without it
anyone who reaches the port could run `action_escalate` with made-up slots (a "VIP" handoff) or rewrite
a customer's CSAT through `action_record_csat`. The server also listens on localhost only by default
(ACTION_SERVER_HOST, given to rasa_sdk as SANIC_HOST by the launcher).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Optional

import pluggy
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")
TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
OPEN_PATHS = ("/health",)  # what a health check may call without the token


class MissingActionServerToken(RuntimeError):
    """ACTION_SERVER_TOKEN is not set: the action server refuses to start rather than run open."""


def expected_token() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        # Fail closed: an action server without its token would accept calls from anyone.
        raise MissingActionServerToken(
            f"{TOKEN_VARIABLE} is not set: the action server refuses to start without it. "
            "Run `make env` (it generates one in .env) and start the action server through the launcher "
            "(`make demo`), which passes the settings on."
        )
    return token


def is_authorised(authorization: Optional[str], token: str) -> bool:
    scheme, _, sent = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


def require_token(app: Sanic, token: str) -> None:
    @app.middleware("request")
    async def only_rasa(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or is_authorised(request.headers.get("authorization"), token):
            return None
        logger.warning("Refused an action call without the action server token from %s", request.ip)
        return json_response(
            {"error": "This action server answers only the Rasa server: send its token (ACTION_SERVER_TOKEN)."},
            status=401,
        )


class ActionServerAuth:
    @hookimpl  # type: ignore[misc]
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        require_token(app, expected_token())


def init_hooks(manager: pluggy.PluginManager) -> None:
    manager.register(ActionServerAuth())
