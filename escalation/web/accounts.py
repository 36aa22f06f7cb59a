"""Sign-in and sign-out for everyone who works in the console (agents, trainers, leads), and the guard each
audience's blueprint puts in front of its routes.

`POST /api/sign-in` exchanges a name and password for a bearer token (lasting AGENT_TOKEN_TTL_SECONDS);
`GET /api/me` says who the token belongs to; `POST /api/sign-out` revokes the token it is sent with.
`guard(blueprint, role)` makes every route of a blueprint need a signed-in person with that role, or one
of several roles (401 without a valid token, 403 with another role); the handler finds them in
`request.ctx.agent`.

Failed sign-ins are counted per account name and per client address (the directory's throttle);
beyond SIGN_IN_FAILURES_PER_ACCOUNT or SIGN_IN_FAILURES_PER_ADDRESS within SIGN_IN_WINDOW_SECONDS,
sign-in answers 429 with `Retry-After` without checking the password. The client address is the
socket's peer, or the address the last TRUSTED_PROXIES proxies put in X-Forwarded-For (Sanic's
PROXIES_COUNT, which the wiring sets with `trust_proxies`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta
from typing import Optional, Tuple, Union

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, empty
from sanic.response import json as json_response

from common.tokens import Identity, verify
from escalation.core.routing import OFFLINE
from escalation.queue.agents import AGENT, AGENT_TOKEN_ISSUER, Agent, SignInLimits, agent_from_token, agent_token
from escalation.web.app import ApiError, Services, blocking, json_body

WRONG_PASSWORD_DELAY_SECONDS = 0.5  # slows down guessing


def _bearer_token(request: Request) -> Optional[str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _signed_in(request: Request, services: Services) -> Optional[Agent]:
    token = _bearer_token(request)
    if token is None:
        return None
    return agent_from_token(token, services.settings.agent_token_secret, services.agents)


def trust_proxies(app: Sanic, trusted_proxies: int) -> None:
    """X-Forwarded-For is believed only as far as the `trusted_proxies` proxies in front of the service
    set it: with none, a client could name any address and so escape the per-address count."""
    app.config.PROXIES_COUNT = trusted_proxies or None


def client_address(request: Request) -> str:
    """Who is signing in, for the per-address count: the entry the trusted proxies added to
    X-Forwarded-For (see `trust_proxies`), else the socket's peer."""
    return request.remote_addr or request.ip or "unknown"


def guard(blueprint: Blueprint, role: Union[None, str, Tuple[str, ...]]) -> Blueprint:
    """Every route of `blueprint` needs a signed-in person, with `role` (or one of several) unless it is None."""
    roles = (role,) if isinstance(role, str) else tuple(role or ())
    wanted = " or ".join(roles)

    @blueprint.middleware("request")
    async def authenticate(request: Request) -> None:
        services: Services = request.app.ctx.services
        person = await blocking(_signed_in, request, services)
        if person is None:
            raise ApiError(401, "Sign in: send an agent's token as 'Authorization: Bearer <token>'.")
        if roles and person.role not in roles:
            article = "an" if person.role == AGENT else "a"
            raise ApiError(403, f"This needs the {wanted} role; {person.name} is {article} {person.role}.")
        request.ctx.agent = person

    return blueprint


def _too_many_failures(services: Services, retry_after: int) -> HTTPResponse:
    retry_at = services.clock() + timedelta(seconds=retry_after)
    return json_response(
        {
            "error": f"Too many failed sign-ins: try again in {retry_after} seconds "
            f"(after {retry_at.isoformat(timespec='seconds')}).",
            "retry_after_seconds": retry_after,
        },
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


def accounts_blueprint() -> Blueprint:
    public = Blueprint("sign_in", url_prefix="/api")

    @public.post("/sign-in")
    async def sign_in(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        settings = services.settings
        body = json_body(request)
        if body is None:
            raise ApiError(400, 'Send {"agent": "<name>", "password": "<password>"}.')
        limits = SignInLimits(
            settings.sign_in_failures_per_account,
            settings.sign_in_failures_per_address,
            settings.sign_in_window_seconds,
        )
        now: datetime = services.clock()
        outcome = await blocking(
            services.agents.sign_in,
            body.get("agent"),
            body.get("password"),
            client_address(request),
            limits,
            now.timestamp(),
        )
        if outcome.retry_after_seconds is not None:
            return _too_many_failures(services, outcome.retry_after_seconds)
        person = outcome.agent
        if person is None:
            await asyncio.sleep(WRONG_PASSWORD_DELAY_SECONDS)
            raise ApiError(401, "Unknown agent or wrong password.")
        token = agent_token(
            person.name, settings.agent_token_secret, settings.agent_token_ttl_seconds, outcome.generation
        )
        return json_response({"token": token, "agent": dataclasses.asdict(person)})

    me = guard(Blueprint("me", url_prefix="/api"), role=None)

    @me.get("/me")
    async def who_am_i(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        person: Agent = request.ctx.agent
        now = services.clock()
        presence = await blocking(
            services.agents.presence, person.name, now, services.settings.agent_presence_timeout_seconds
        )
        return json_response({**dataclasses.asdict(person), "presence": presence})

    @me.post("/sign-out")
    async def sign_out(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        identity: Identity = verify(_bearer_token(request), services.settings.agent_token_secret, AGENT_TOKEN_ISSUER)
        person: Agent = request.ctx.agent
        await blocking(services.agents.revoke_token, person.name, identity.token_id, identity.expires_at, time.time())
        await blocking(
            services.agents.set_presence, person.name, OFFLINE, services.clock()
        )  # no chats to a signed-out agent
        return empty()

    return Blueprint.group(public, me)
