"""Sign-in for everyone who works in the console (agents and trainers), and the guard each audience's
blueprint puts in front of its routes.

`POST /api/sign-in` exchanges a name and password for a bearer token; `GET /api/me` says who the token
belongs to. `guard(blueprint, role)` makes every route of a blueprint need a signed-in person with
that role (401 without a valid token, 403 with another role); the handler finds them in
`request.ctx.agent`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Optional

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from escalation.queue.agents import AGENT, Agent, agent_from_token, agent_token
from escalation.web.app import ApiError, Services, blocking, json_body

WRONG_PASSWORD_DELAY_SECONDS = 0.5  # slows down guessing


def _signed_in(request: Request, services: Services) -> Optional[Agent]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return agent_from_token(token.strip(), services.settings.agent_token_secret, services.agents)


def guard(blueprint: Blueprint, role: Optional[str]) -> Blueprint:
    """Every route of `blueprint` needs a signed-in person, with `role` unless it is None."""

    @blueprint.middleware("request")
    async def authenticate(request: Request) -> None:
        services: Services = request.app.ctx.services
        person = await blocking(_signed_in, request, services)
        if person is None:
            raise ApiError(401, "Sign in: send an agent's token as 'Authorization: Bearer <token>'.")
        if role and person.role != role:
            article = "an" if person.role == AGENT else "a"
            raise ApiError(403, f"This needs the {role} role; {person.name} is {article} {person.role}.")
        request.ctx.agent = person

    return blueprint


def accounts_blueprint() -> Blueprint:
    public = Blueprint("sign_in", url_prefix="/api")

    @public.post("/sign-in")
    async def sign_in(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        body = json_body(request)
        if body is None:
            raise ApiError(400, 'Send {"agent": "<name>", "password": "<password>"}.')
        person = await blocking(services.agents.authenticate, body.get("agent"), body.get("password"))
        if person is None:
            await asyncio.sleep(WRONG_PASSWORD_DELAY_SECONDS)
            raise ApiError(401, "Unknown agent or wrong password.")
        return json_response(
            {
                "token": agent_token(person.name, services.settings.agent_token_secret),
                "agent": dataclasses.asdict(person),
            }
        )

    me = guard(Blueprint("me", url_prefix="/api"), role=None)

    @me.get("/me")
    async def who_am_i(request: Request) -> HTTPResponse:
        return json_response(dataclasses.asdict(request.ctx.agent))

    return Blueprint.group(public, me)
