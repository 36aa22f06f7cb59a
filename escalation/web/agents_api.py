"""The agents' console API (agent role). Agents see and claim only handoffs in the queues they serve
(and their own, wherever they were transferred); anything else is 403 with the reason.

An agent keeps a claimed handoff while they work on it (reading it or its messages renews the lease);
one who goes silent past the lease loses it back to the queue. Agents write into the customer's chat
with `POST /api/handoffs/{id}/messages`; the customer's messages come from Rasa's tracker store
(`GET /api/handoffs/{id}/messages?after=N&wait=S` answers as soon as there is something newer than N).
Resolving hands the conversation back to the bot, which asks for a CSAT rating.

Routing (escalation/core/routing.py): an agent sets their presence (`POST /api/presence`; the console
repeats it every 20 s as a heartbeat, which also keeps the leases of their conversations) and live
chats of push queues are assigned to them without a claim, up to their capacity. In push queues an
agent may still take the next chat by hand (the most urgent one they may take), never pick one
further down the line; pull queues, callbacks and tickets are claimed from the list. An agent can
decline a chat routing gave them, or transfer one, with a reason.
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
from escalation.core.routing import ONLINE, PRESENCES
from escalation.core.sentiment import score_message
from escalation.core.sla import closest_to_breach
from escalation.queue.agents import AGENT, Agent
from escalation.queue.handoffs import Handoff
from escalation.web.accounts import guard
from escalation.web.app import (
    LONG_POLL_MAX_SECONDS,
    ApiError,
    Services,
    blocking,
    calling_rasa,
    greet,
    json_body,
    plain,
    route_soon,
)
from escalation.web.workspace import (
    add_note,
    canned_responses,
    clocks_of,
    handoff_messages,
    history,
    record_final_clocks,
)

logger = logging.getLogger(__name__)
LONG_POLL_INTERVAL_SECONDS = 0.15
HEARTBEAT_SECONDS = 20  # how often the console repeats its presence (well inside the 60 s timeout)
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
    "declined_by",
    "resolution_code",
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
        "sla": [clock.as_json() for clock in clocks_of(services, handoff, messages)],
        "notes": [plain(note) for note in services.queue.notes([handoff.id])],
        "history": history(services, handoff, agent),
        "resolution_codes": list(services.rules.workspace.codes_for(handoff.queue)),
    }


def next_in_line(services: Services, handoff: Handoff, agent: Agent) -> None:
    """In a push queue a live chat is taken in order: only the most urgent waiting one this agent may
    take (409 otherwise, naming it), so nobody cherry-picks; pull queues, callbacks and tickets are free."""
    if handoff.channel != HandoffChannel.LIVE_CHAT or handoff.queue not in services.rules.routing.push_queues(
        services.rules.queues
    ):
        return
    push = set(services.rules.routing.push_queues(services.rules.queues)) & set(agent.queues)
    first = next(
        (h for h in services.queue.waiting_chats() if h.queue in push and agent.name not in h.declined_by), None
    )
    if first is not None and first.id != handoff.id:
        raise ApiError(
            409,
            f"Chats in the {handoff.queue} queue are assigned in order: the next one for you is {first.id} "
            "(or go online and they come to you).",
        )


def listed(services: Services, status: str, agent: Agent, sort: str, mine: bool = False) -> list:
    """The handoffs an agent sees (`mine`: only their own), each with its SLA clocks and its latest
    customer message's id (the console notices new messages and clocks turning at risk); `sort=sla`:
    closest to breach first."""
    rows = []
    handoffs = services.queue.list(status, [] if mine else agent.queues, agent_id=agent.name)
    for handoff in handoffs:
        messages = handoff_messages(services, handoff)
        clocks = clocks_of(services, handoff, messages)
        latest = max((m.id for m in messages if m.sender == "customer"), default=0)
        rows.append((closest_to_breach(clocks), plain(handoff, LIST_FIELDS), clocks, latest))
    if sort == "sla":
        rows.sort(key=lambda row: row[0])
    return [
        {**fields, "sla": [c.as_json() for c in clocks], "last_customer_message_id": latest}
        for _, fields, clocks, latest in rows
    ]


def claim_and_greet(services: Services, handoff_id: str, agent: Agent) -> Handoff:
    """Claims the handoff (within the agent's capacity); in a live chat the customer learns who joined
    (the claim stands even if that message cannot be delivered)."""
    waiting = visible(services, handoff_id, agent)  # a waiting handoff is nobody's: only agents of its queue see it
    if waiting.status == HandoffStatus.WAITING:
        next_in_line(services, waiting, agent)
    handoff = services.queue.claim(
        handoff_id, agent.name, services.clock(), queues=agent.queues, capacity=agent.capacity
    )
    if handoff.channel == HandoffChannel.LIVE_CHAT:
        greet(services, handoff, agent.name)
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


MAX_SUMMARY_CHARS = 2000


def wrap_up(services: Services, handoff: Handoff, body: Optional[dict]) -> tuple:
    """The resolution code (one of the handoff's queue's codes; the console always asks for one) and
    the summary the agent wrote, checked."""
    code, summary = (body or {}).get("resolution_code"), (body or {}).get("summary")
    codes = services.rules.workspace.codes_for(handoff.queue)
    if code is not None and code not in codes:
        raise ApiError(400, f"resolution_code must be one of {list(codes)} (the {handoff.queue} queue's).")
    if summary is not None and (not isinstance(summary, str) or len(summary) > MAX_SUMMARY_CHARS):
        raise ApiError(400, f"summary must be text of at most {MAX_SUMMARY_CHARS} characters.")
    return code, (" ".join(summary.split()) or None) if isinstance(summary, str) else None


def resolve(services: Services, handoff_id: str, agent: Agent, body: Optional[dict] = None) -> Handoff:
    code, summary = wrap_up(services, owned(services, handoff_id, agent), body)
    resolved = services.queue.resolve(handoff_id, agent.name, services.clock(), code, summary)
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
    try:  # after the hand-back: bookkeeping must never leave the customer with a paused bot
        record_final_clocks(services, resolved)
    except Exception:
        logger.exception("Could not record how the SLA clocks of %s ended", handoff_id)
    return resolved


MAX_REASON_CHARS = 500


def _reason(body: Optional[dict], required: bool) -> str:
    reason = body.get("reason") if body else None
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise ApiError(400, f'Say why: {{"reason": "..."}} with 1 to {MAX_REASON_CHARS} characters.')
    return " ".join(reason.split())


def transfer(services: Services, handoff_id: str, agent: Agent, target: Optional[str], reason: str = "") -> Handoff:
    if target not in services.rules.queues:
        raise ApiError(400, f"queue must be one of {list(services.rules.queues)}.")
    owned(services, handoff_id, agent)
    return services.queue.transfer(handoff_id, agent.name, target, services.clock(), reason)


def decline(services: Services, handoff_id: str, agent: Agent, reason: str) -> Handoff:
    owned(services, handoff_id, agent)
    return services.queue.decline(handoff_id, agent.name, services.clock(), reason)


def set_presence(services: Services, agent: Agent, status: object) -> dict:
    if status not in PRESENCES:
        raise ApiError(400, f'Send {{"status": "online" | "away" | "offline"}}, got {status!r}.')
    now = services.clock()
    services.agents.set_presence(agent.name, str(status), now)
    # The console is open (whatever its status): the conversations the agent holds stay theirs.
    services.queue.renew_leases(agent.name, now)
    return presence_of(services, agent)


def presence_of(services: Services, agent: Agent) -> dict:
    now = services.clock()
    return {
        "presence": services.agents.presence(agent.name, now, services.settings.agent_presence_timeout_seconds),
        "capacity": agent.capacity,
        "open_conversations": services.queue.open_counts().get(agent.name, 0),
        "heartbeat_seconds": HEARTBEAT_SECONDS,
    }


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

    @api.post("/presence")
    async def presence(request: Request) -> HTTPResponse:
        services, body = _services(request), json_body(request)
        agent, timeout = request.ctx.agent, services.settings.agent_presence_timeout_seconds
        before = await blocking(services.agents.presence, agent.name, services.clock(), timeout)
        state = await blocking(set_presence, services, agent, body.get("status") if body else None)
        if state["presence"] == ONLINE and before != ONLINE:
            route_soon(request.app, services)  # an agent came online: waiting chats may be theirs now
        return json_response(state)

    @api.get("/queues")
    async def queues(request: Request) -> HTTPResponse:
        return json_response({"queues": list(_services(request).rules.queues)})

    @api.get("/handoffs")
    async def list_handoffs(request: Request) -> HTTPResponse:
        status, agent = request.args.get("status", HandoffStatus.WAITING), request.ctx.agent
        if status not in HandoffStatus.ALL:
            raise ApiError(400, f"status must be one of {', '.join(HandoffStatus.ALL)}")
        sort = request.args.get("sort", "due")
        if sort not in ("due", "sla"):
            raise ApiError(
                400, "sort must be due (SLA due time, then priority: the queue order) or sla (closest to breach)"
            )
        services, mine = _services(request), request.args.get("mine") in ("1", "true")
        return json_response(await blocking(listed, services, status, agent, sort, mine))

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
        services = _services(request)
        resolved = await calling_rasa(resolve, services, handoff_id, request.ctx.agent, json_body(request))
        route_soon(request.app, services)  # a slot is free
        return json_response(plain(resolved))

    @api.post("/handoffs/<handoff_id>/transfer")
    async def transfer_handoff(request: Request, handoff_id: str) -> HTTPResponse:
        services, body = _services(request), json_body(request)
        handoff = await blocking(
            transfer, services, handoff_id, request.ctx.agent, body.get("queue") if body else None, _reason(body, False)
        )
        route_soon(request.app, services)
        return json_response(plain(handoff))

    @api.get("/handoffs/<handoff_id>/canned")
    async def canned(request: Request, handoff_id: str) -> HTTPResponse:
        services = _services(request)
        handoff = await blocking(visible, services, handoff_id, request.ctx.agent)
        return json_response(await blocking(canned_responses, services, handoff))

    @api.post("/handoffs/<handoff_id>/notes")
    async def post_note(request: Request, handoff_id: str) -> HTTPResponse:
        services, body = _services(request), json_body(request)
        handoff = await blocking(visible, services, handoff_id, request.ctx.agent)
        return json_response(await blocking(add_note, services, handoff, request.ctx.agent, body), status=201)

    @api.get("/handoffs/<handoff_id>/notes")
    async def list_notes(request: Request, handoff_id: str) -> HTTPResponse:
        services = _services(request)
        handoff = await blocking(visible, services, handoff_id, request.ctx.agent)
        return json_response([plain(n) for n in await blocking(services.queue.notes, [handoff.id])])

    @api.post("/handoffs/<handoff_id>/decline")
    async def decline_handoff(request: Request, handoff_id: str) -> HTTPResponse:
        services, body = _services(request), json_body(request)
        handoff = await blocking(decline, services, handoff_id, request.ctx.agent, _reason(body, True))
        route_soon(request.app, services)  # to someone else
        return json_response(plain(handoff))

    return api
