"""The escalation service: the agents' HTTP JSON API over the human queue (port 8000).

An agent keeps a claimed handoff while they look at it (each GET of it renews the lease); one who
goes silent past the lease loses it back to the queue. Every route needs an agent's bearer token (`make agent-token AGENT=alice`). Errors are JSON
`{"error": "..."}`: 401 without valid credentials, 403 for another agent's handoff, 404, 409 when
another agent was faster, 400 for bad input. Handlers only parse, call the queue and map errors.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime, timezone
from typing import Callable, Optional

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response

from escalation.agents import Agent, AgentDirectory, agent_from_token
from escalation.policy import load_rules
from escalation.queue import ClaimConflict, HandoffQueue, NotFound
from escalation.rasa_client import RasaClient, RasaUnavailable, transcript
from escalation.sentiment import score_message
from supportbot.profiles import CustomerRepository, engine_for
from supportbot.settings import Settings, load_settings

logger = logging.getLogger(__name__)
LIST_FIELDS = ("id", "conversation_id", "customer_id", "tier", "queue", "priority", "channel", "sla_due_at", "reasons",
               "status", "agent_id", "sla_breached_at")


def _error(status: int, message: str) -> HTTPResponse:
    return json_response({"error": message}, status=status)


def _plain(handoff, fields=None) -> dict:
    data = dataclasses.asdict(handoff)
    if fields:
        data = {k: data[k] for k in fields}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def create_app(settings: Settings, queue: HandoffQueue, agents: AgentDirectory, customers: CustomerRepository,
               rasa: RasaClient, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Sanic:
    rules = load_rules()  # refuses to start with invalid rules, saying what is wrong
    app = Sanic(f"escalation-{uuid.uuid4().hex[:8]}")

    def signed_in(request: Request) -> Optional[Agent]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return agent_from_token(token.strip(), settings.agent_token_secret, agents)

    @app.middleware("request")
    async def authenticate(request: Request):
        if request.path == "/health":
            return None
        agent = signed_in(request)
        if agent is None:
            return _error(401, "Sign in: send an agent's token as 'Authorization: Bearer <token>'.")
        request.ctx.agent = agent
        return None

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/api/handoffs")
    async def list_handoffs(request: Request) -> HTTPResponse:
        status = request.args.get("status", "waiting")
        if status not in ("waiting", "assigned", "resolved", "abandoned"):
            return _error(400, "status must be waiting, assigned, resolved or abandoned")
        queue.release_expired_leases(clock())
        queue.record_sla_breaches(clock())
        return json_response([_plain(h, LIST_FIELDS) for h in queue.list(status)])

    @app.get("/api/handoffs/<handoff_id>")
    async def show(request: Request, handoff_id: str) -> HTTPResponse:
        try:
            handoff = queue.get(handoff_id)
        except NotFound:
            return _error(404, f"No handoff {handoff_id}.")
        if handoff.status == "assigned" and handoff.agent_id == request.ctx.agent.name:
            handoff = queue.heartbeat(handoff_id, request.ctx.agent.name, clock())  # still working on it
        customer = customers.get(handoff.customer_id) if handoff.customer_id else None
        try:
            lines = transcript(rasa.tracker(handoff.conversation_id))
        except RasaUnavailable as error:
            logger.warning("Transcript unavailable for %s: %s", handoff.conversation_id, error)
            lines = []
        trend = [round(score_message(line["text"]).compound, 3) for line in lines if line["from"] == "customer"]
        return json_response({
            **_plain(handoff),
            "profile": _plain(customer) if customer else None,
            "sentiment_trend": trend,
            "transcript": lines,
        })

    @app.post("/api/handoffs/<handoff_id>/claim")
    async def claim(request: Request, handoff_id: str) -> HTTPResponse:
        try:
            return json_response(_plain(queue.claim(handoff_id, request.ctx.agent.name, clock())))
        except NotFound:
            return _error(404, f"No handoff {handoff_id}.")
        except ClaimConflict as conflict:
            return _error(409, f"Cannot claim: {conflict}.")

    def owned(handoff_id: str, agent: Agent):
        """(the handoff, None) when `agent` has it, else (None, the error response to send)."""
        try:
            handoff = queue.get(handoff_id)
        except NotFound:
            return None, _error(404, f"No handoff {handoff_id}.")
        if handoff.agent_id != agent.name:
            return None, _error(403, f"Handoff {handoff_id} is not yours"
                                + (f" (it belongs to {handoff.agent_id})." if handoff.agent_id else "; claim it first."))
        return handoff, None

    @app.post("/api/handoffs/<handoff_id>/resolve")
    async def resolve(request: Request, handoff_id: str) -> HTTPResponse:
        handoff, refusal = owned(handoff_id, request.ctx.agent)
        if refusal:
            return refusal
        try:
            rasa.resume(handoff.conversation_id)
        except RasaUnavailable as error:
            return _error(502, f"The bot could not take the conversation back ({error}); try again.")
        return json_response(_plain(queue.resolve(handoff_id, request.ctx.agent.name, clock())))

    @app.post("/api/handoffs/<handoff_id>/transfer")
    async def transfer(request: Request, handoff_id: str) -> HTTPResponse:
        body = request.json if request.body else None
        target = body.get("queue") if isinstance(body, dict) else None
        if target not in rules.queues:
            return _error(400, f"queue must be one of {list(rules.queues)}.")
        _, refusal = owned(handoff_id, request.ctx.agent)
        if refusal:
            return refusal
        return json_response(_plain(queue.transfer(handoff_id, request.ctx.agent.name, target, clock())))

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception) -> HTTPResponse:
        status = getattr(error, "status_code", 500)
        if status >= 500:
            logger.exception("Unexpected error on %s", request.path)
            return _error(500, "Something went wrong on our side; the error is in the service log.")
        return _error(status, str(error))

    return app


def build(settings: Settings) -> Sanic:
    engine = engine_for(settings.customer_db_url)
    queue, agents = HandoffQueue(engine), AgentDirectory(engine)
    queue.create_schema()
    agents.seed_demo_agents()
    return create_app(settings, queue, agents, CustomerRepository(engine),
                      RasaClient(settings.rasa_url, settings.rasa_token))


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level)
    build(settings).run(host="127.0.0.1", port=settings.escalation_port, access_log=False)


if __name__ == "__main__":
    main()
