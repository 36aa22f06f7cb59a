"""The agents' console API (agent role). Agents see and claim only handoffs in the queues they serve
(and their own, wherever they were transferred); anything else is 403 with the reason.

An agent keeps a claimed handoff while they work on it (reading it or its messages renews the lease);
one who goes silent past the lease loses it back to the queue. Agents write into the customer's chat
with `POST /api/handoffs/{id}/messages`; the customer's messages come from Rasa's tracker store
(`GET /api/handoffs/{id}/messages?after=N&wait=S` answers as soon as there is something newer than N).
Resolving hands the conversation back to the bot, which asks for a CSAT rating.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Optional

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from common.conversation_log import Message
from common.names import HandoffChannel, HandoffStatus
from common.rasa_api import RasaUnavailable, RatingNotAsked
from common.screening import screen_text
from escalation.core.sentiment import score_message
from escalation.queue.agents import AGENT, Agent
from escalation.queue.handoffs import Handoff
from escalation.web.accounts import guard
from escalation.web.app import LONG_POLL_MAX_SECONDS, ApiError, Services, blocking, calling_rasa, json_body, plain

logger = logging.getLogger(__name__)
LONG_POLL_INTERVAL_SECONDS = 0.15
MAX_CURSOR = 2**63 - 1  # message ids are 64-bit integers in the tracker store
LIST_FIELDS = (
    "id",
    "conversation_id",
    "customer_id",
    "tier",
    "queue",
    "priority",
    "channel",
    "sla_due_at",
    "reasons",
    "status",
    "agent_id",
    "sla_breached_at",
    "created_at",
    "segment",
)


def _services(request: Request) -> Services:
    return request.app.ctx.services


def visible(services: Services, handoff_id: str, agent: Agent) -> Handoff:
    """The handoff, if `agent` may see it: theirs, or in a queue they serve (NotFound, or 403)."""
    handoff = services.queue.get(handoff_id)
    if handoff.agent_id != agent.name and not agent.serves(handoff.queue):
        raise ApiError(403, f"Handoff {handoff_id} is in the {handoff.queue} queue, which {agent.name} does not serve.")
    return handoff


def owned(services: Services, handoff_id: str, agent: Agent) -> Handoff:
    """The handoff, if `agent` is working on it (NotFound, 403 or 409 otherwise)."""
    handoff = services.queue.get(handoff_id)
    if handoff.agent_id != agent.name:
        raise ApiError(
            403,
            f"Handoff {handoff_id} is not yours"
            + (f" (it belongs to {handoff.agent_id})." if handoff.agent_id else "; claim it first."),
        )
    if handoff.status != HandoffStatus.ASSIGNED:
        raise ApiError(409, f"Handoff {handoff_id} is {handoff.status}.")
    return handoff


def _renew_if_mine(services: Services, handoff: Handoff, agent: Agent) -> Handoff:
    if handoff.status == HandoffStatus.ASSIGNED and handoff.agent_id == agent.name:
        return services.queue.heartbeat(handoff.id, agent.name, services.clock())  # still working on it
    return handoff


def sentiment_of(message: Message) -> dict:
    """What the NLU stored with the customer's message (the combined detector's compound, dissatisfaction
    score and cues); for a message stored without it, the lexicon's score."""
    if message.sentiment and "compound" in message.sentiment:
        return message.sentiment
    lexicon = score_message(message.text)
    return {"compound": lexicon.compound, "cues": list(lexicon.cues)}


def handoff_detail(services: Services, handoff_id: str, agent: Agent) -> dict:
    """A handoff with the customer's profile, the transcript and the customer's sentiment over it."""
    handoff = _renew_if_mine(services, visible(services, handoff_id, agent), agent)
    customer = services.customers.get(handoff.customer_id) if handoff.customer_id else None
    messages = services.log.messages(handoff.conversation_id)
    customer_messages = [m for m in messages if m.sender == "customer"]
    return {
        **plain(handoff),
        "profile": plain(customer) if customer else None,
        "sentiment_trend": [round(sentiment_of(m)["compound"], 3) for m in customer_messages],
        "latest_sentiment": sentiment_of(customer_messages[-1]) if customer_messages else None,
        "transcript": [m.as_json() for m in messages],
        "cursor": messages[-1].id if messages else 0,
    }


def claim_and_greet(services: Services, handoff_id: str, agent: Agent) -> Handoff:
    """Claims the handoff; in a live chat the customer learns a person has joined (the claim stands
    even if that message cannot be delivered)."""
    visible(services, handoff_id, agent)  # a waiting handoff is nobody's: only agents of its queue see it
    handoff = services.queue.claim(handoff_id, agent.name, services.clock(), queues=agent.queues)
    if handoff.channel == HandoffChannel.LIVE_CHAT:
        try:
            services.rasa.say_as_agent(
                handoff.conversation_id,
                f"Hi, this is {agent.display_name.split()[0]} from the Larkspur support team. "
                "I've read your conversation so far and I'm here to help.",
                agent.name,
                agent.display_name,
            )
        except Exception as error:  # RasaUnavailable or a network fault
            logger.warning("Could not greet the customer of %s: %s", handoff_id, error)
    return handoff


# Each change below is made in the database first, atomically and only if the handoff is still this
# agent's; only then is the customer messaged. A handoff that changed in between (lease expired,
# another tab or process) is a 409 before anything reached the customer.


def send_as_agent(services: Services, handoff_id: str, agent: Agent, text: str) -> None:
    handoff = owned(services, handoff_id, agent)
    services.queue.heartbeat(handoff_id, agent.name, services.clock())  # still theirs, for a whole lease
    try:
        services.rasa.say_as_agent(handoff.conversation_id, text, agent.name, agent.display_name)
    except RasaUnavailable as error:
        raise ApiError(502, f"The message could not be delivered ({error}); try again.") from None


def resolve(services: Services, handoff_id: str, agent: Agent) -> Handoff:
    owned(services, handoff_id, agent)
    resolved = services.queue.resolve(handoff_id, agent.name, services.clock())
    try:
        services.rasa.hand_back_asking_for_csat(resolved.conversation_id, resolved.id)
    except RatingNotAsked as error:
        # The bot has the conversation again: the handoff is resolved, only the rating question is lost.
        logger.warning("Resolved %s, but the rating question was not sent: %s", handoff_id, error)
    except RasaUnavailable as error:
        try:
            services.queue.reopen(handoff_id, agent.name, services.clock())  # the agent still has the customer
        except Exception:  # e.g. a new handoff opened meanwhile: it stays resolved, and the agent is told
            logger.exception("Could not reopen %s after a failed hand-back", handoff_id)
        raise ApiError(502, f"The bot could not take the conversation back ({error}); try again.") from None
    return resolved


def transfer(services: Services, handoff_id: str, agent: Agent, target: Optional[str]) -> Handoff:
    if target not in services.rules.queues:
        raise ApiError(400, f"queue must be one of {list(services.rules.queues)}.")
    owned(services, handoff_id, agent)
    return services.queue.transfer(handoff_id, agent.name, target, services.clock())


async def wait_for_messages(services: Services, conversation_id: str, after: int, wait: float) -> list:
    """Messages newer than `after`, waiting up to `wait` seconds for the first one."""
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        messages = await blocking(services.log.messages, conversation_id, after)
        if messages or time.monotonic() >= deadline:
            return messages
        await asyncio.sleep(LONG_POLL_INTERVAL_SECONDS)


def agents_blueprint() -> Blueprint:
    api = guard(Blueprint("agents", url_prefix="/api"), role=AGENT)

    @api.get("/queues")
    async def queues(request: Request) -> HTTPResponse:
        return json_response({"queues": list(_services(request).rules.queues)})

    @api.get("/handoffs")
    async def list_handoffs(request: Request) -> HTTPResponse:
        status, agent = request.args.get("status", HandoffStatus.WAITING), request.ctx.agent
        if status not in HandoffStatus.ALL:
            raise ApiError(400, f"status must be one of {', '.join(HandoffStatus.ALL)}")
        handoffs = await blocking(_services(request).queue.list, status, agent.queues, agent_id=agent.name)
        return json_response([plain(h, LIST_FIELDS) for h in handoffs])

    @api.get("/handoffs/<handoff_id>")
    async def show(request: Request, handoff_id: str) -> HTTPResponse:
        return json_response(await blocking(handoff_detail, _services(request), handoff_id, request.ctx.agent))

    @api.get("/handoffs/<handoff_id>/messages")
    async def new_messages(request: Request, handoff_id: str) -> HTTPResponse:
        """Messages newer than `after`; waits up to `wait` seconds (at most 25) for one to arrive."""
        try:
            after = int(request.args.get("after", 0))
            wait = min(float(request.args.get("wait", 0)), LONG_POLL_MAX_SECONDS)
        except ValueError:
            after, wait = -1, 0.0
        if not 0 <= after <= MAX_CURSOR or not math.isfinite(wait):
            raise ApiError(400, f"after must be a whole number from 0 to {MAX_CURSOR} and wait a number of seconds.")
        services, agent = _services(request), request.ctx.agent
        handoff = await blocking(visible, services, handoff_id, agent)
        messages = await wait_for_messages(services, handoff.conversation_id, after, wait)
        handoff = await blocking(_renew_if_mine, services, await blocking(services.queue.get, handoff_id), agent)
        return json_response(
            {
                "messages": [m.as_json() for m in messages],
                "cursor": messages[-1].id if messages else after,
                "status": handoff.status,
                "agent_id": handoff.agent_id,
            }
        )

    @api.post("/handoffs/<handoff_id>/messages")
    async def send_message(request: Request, handoff_id: str) -> HTTPResponse:
        services, body = _services(request), json_body(request)
        text = body.get("text") if body else None
        screened = screen_text(text if isinstance(text, str) else None, services.settings.max_message_chars)
        if screened.problem:
            raise ApiError(400, f'Send {{"text": "..."}} with 1 to {services.settings.max_message_chars} characters.')
        await calling_rasa(send_as_agent, services, handoff_id, request.ctx.agent, screened.text)
        return json_response({"sent": True, "text": screened.text}, status=201)

    @api.post("/handoffs/<handoff_id>/claim")
    async def claim(request: Request, handoff_id: str) -> HTTPResponse:
        handoff = await calling_rasa(claim_and_greet, _services(request), handoff_id, request.ctx.agent)
        return json_response(plain(handoff))

    @api.post("/handoffs/<handoff_id>/resolve")
    async def resolve_handoff(request: Request, handoff_id: str) -> HTTPResponse:
        return json_response(plain(await calling_rasa(resolve, _services(request), handoff_id, request.ctx.agent)))

    @api.post("/handoffs/<handoff_id>/transfer")
    async def transfer_handoff(request: Request, handoff_id: str) -> HTTPResponse:
        body = json_body(request)
        handoff = await blocking(
            transfer, _services(request), handoff_id, request.ctx.agent, body.get("queue") if body else None
        )
        return json_response(plain(handoff))

    return api
