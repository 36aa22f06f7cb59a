"""The escalation service's web app (port 8000): an app factory and the parts every blueprint shares.

`create_app(services, blueprints)` builds one Sanic app from blueprints named by audience: the website
and its demo tokens (site.py), sign-in (accounts.py), the agents' console API (agents_api.py), and
whatever the top-level wiring adds (the trainers' API, from training/). Handlers only parse, call the
queue, the CRM or Rasa, and raise; errors become JSON `{"error": "..."}` here, in one place: 400 for
bad input, 401 without valid credentials, 403 for what the agent may not touch, 404, 409 when another
agent was faster or the handoff is closed, 502 when Rasa cannot be reached. Blocking database and
HTTP calls run in a thread pool (`blocking`), so one slow query never stalls the other requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple, Type

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from common.conversation_log import ConversationLog
from common.crm import CustomerRepository
from common.leases import JobLease
from common.rasa_api import RasaClient, RasaUnavailable
from common.settings import Settings
from escalation.core.rules import Rules
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import ClaimConflict, Handoff, HandoffQueue, NotFound
from escalation.queue.routing import Router, joined_message

logger = logging.getLogger(__name__)
QUEUE_UPKEEP_SECONDS = 5  # how often silent agents' leases expire and SLA breaches are recorded
LONG_POLL_MAX_SECONDS = 25
MAX_REQUEST_BYTES = 1024 * 1024  # every body the service takes (sign-in, messages, labels) is a few KB


class ApiError(Exception):
    """An answer to the client: its HTTP status and a message saying what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# Domain errors and the HTTP status they become (more can be added by the wiring).
ERROR_STATUSES: Dict[Type[Exception], int] = {NotFound: 404, ClaimConflict: 409, RasaUnavailable: 502}


@dataclass(frozen=True)
class Services:
    """What the handlers work with. Tests build it with fakes (a Rasa client, a clock)."""

    settings: Settings
    rules: Rules
    queue: HandoffQueue
    agents: AgentDirectory
    customers: CustomerRepository
    rasa: RasaClient
    log: ConversationLog
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    # With several service processes, the one holding this lease runs the queue's upkeep (None: this
    # process always does, as in tests).
    upkeep_lease: Optional[JobLease] = None

    @property
    def router(self) -> Router:
        return Router(self.queue, self.agents, self.rules, self.settings.agent_presence_timeout_seconds)


# Calls that wait for Rasa get threads of their own: a slow or stuck Rasa then holds up only those
# calls (which fail fast after the first timeout, common/rasa_api.py), never the database work that
# every console, long-poll and sign-in needs.
RASA_CALLS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rasa-calls")


async def blocking(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a blocking database call in the thread pool and waits for it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args, **kwargs))


async def calling_rasa(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Like `blocking`, for work that calls Rasa's HTTP API."""
    return await asyncio.get_running_loop().run_in_executor(RASA_CALLS, functools.partial(function, *args, **kwargs))


def json_body(request: Request) -> Optional[dict]:
    """The request's JSON object, or None when the body is empty or not an object."""
    try:
        body = request.json if request.body else None
    except Exception:  # sanic raises on invalid JSON
        raise ApiError(400, "The request body must be valid JSON.") from None
    return body if isinstance(body, dict) else None


def plain(record: Any, fields: Optional[Iterable[str]] = None) -> dict:
    """A dataclass as JSON-ready values (datetimes as ISO 8601), optionally only `fields`."""
    data = dataclasses.asdict(record)
    if fields:
        data = {key: data[key] for key in fields}
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in data.items()}


def _error(status: int, message: str) -> HTTPResponse:
    return json_response({"error": message}, status=status)


# A step the wiring adds to each upkeep round: a name for the log, and the work (blocking, in the pool).
UpkeepStep = Tuple[str, Callable[[Services], Any]]


def create_app(
    services: Services,
    blueprints: Iterable[Blueprint],
    error_statuses: Optional[Dict[Type[Exception], int]] = None,
    upkeep_steps: Sequence[UpkeepStep] = (),
) -> Sanic:
    statuses = {**ERROR_STATUSES, **(error_statuses or {})}
    app = Sanic(f"escalation-{uuid.uuid4().hex[:8]}")
    app.config.RESPONSE_TIMEOUT = LONG_POLL_MAX_SECONDS + 30
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES  # refused before the body is read (Sanic's default: 100 MB)
    app.ctx.services = services
    for blueprint in blueprints:
        app.blueprint(blueprint)

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.middleware("response")
    async def no_sniffing(_: Request, response: HTTPResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")

    @app.exception(Exception)
    async def as_json(request: Request, error: Exception) -> HTTPResponse:
        return _error_response(request, error, statuses)

    _run_queue_upkeep(app, services, upkeep_steps)
    return app


def _error_response(request: Request, error: Exception, statuses: Dict[Type[Exception], int]) -> HTTPResponse:
    if isinstance(error, ApiError):
        return _error(error.status, str(error))
    status = next((code for kind, code in statuses.items() if isinstance(error, kind)), None)
    if status is not None:
        return _error(status, str(error))
    if isinstance(sys.exc_info()[1], asyncio.CancelledError):
        # Sanic cancelled the handler because the client left (e.g. closed the console during a
        # long-poll) and reports it as a 503; nothing went wrong on our side.
        logger.debug("Client went away during %s", request.path)
        return _error(499, "The client closed the request.")
    status = getattr(error, "status_code", 500)
    if status >= 500:
        logger.exception("Unexpected error on %s", request.path, exc_info=error)
        return _error(500, "Something went wrong on our side; the error is in the service log.")
    return _error(status, str(error))


async def assign_waiting_and_greet(services: Services) -> int:
    """Push routing: waiting chats to eligible agents (escalation/queue/routing.py); each customer is
    told who joined (the assignment stands even if that message cannot be delivered)."""
    assigned = await blocking(services.router.assign_waiting, services.clock())
    for handoff, agent in assigned:
        await calling_rasa(greet, services, handoff, agent.name)
    return len(assigned)


def greet(services: Services, handoff: Handoff, agent_name: str) -> None:
    try:
        display_name = services.agents.account(agent_name).display_name
        services.rasa.say_as_agent(
            handoff.conversation_id, joined_message(display_name), agent_name, display_name, automatic=True
        )
    except Exception as error:  # RasaUnavailable or a network fault
        logger.warning("Could not tell the customer of %s who joined: %s", handoff.id, error)


def route_soon(app: Sanic, services: Services) -> None:
    """Runs push routing after the current request (an agent came online or freed a slot)."""

    async def route() -> None:
        try:
            await assign_waiting_and_greet(services)
        except Exception:  # the upkeep timer tries again within seconds
            logger.exception("Routing after a change failed")

    app.add_task(route())


def _say_as_bot(services: Services) -> Callable[[str, str], None]:
    def say(conversation_id: str, text: str) -> None:
        services.rasa.append_events(conversation_id, [{"event": "bot", "text": text}], deliver=True)

    return say


def _run_queue_upkeep(app: Sanic, services: Services, extra_steps: Sequence[UpkeepStep] = ()) -> None:
    """On a timer: silent agents' handoffs back to the queue, SLA breaches recorded, push routing, and
    the waiting customers kept informed (their place in line, a callback offer before the SLA passes,
    "are you still there?", abandonment), and the wiring's own steps (the workspace's SLA clock events)."""
    tasks: list = []

    async def step(name: str, work: Callable[[], Any]) -> Any:
        """Each step on its own: one that fails (Rasa down, a bad row) does not skip the others."""
        try:
            return await work()
        except Exception:
            logger.exception("Queue upkeep: %s failed; the next round retries", name)
            return None

    async def upkeep_round() -> None:
        expired = await step("leases and SLA breaches", lambda: blocking(services.queue.upkeep, services.clock()))
        if expired and any(expired):
            logger.info("Queue upkeep: %d lease(s) expired, %d SLA breach(es) recorded", *expired)
        await step("push routing", lambda: assign_waiting_and_greet(services))
        for name, work in extra_steps:
            await step(name, lambda work=work: blocking(work, services))
        told = await step(
            "telling waiting customers",
            lambda: calling_rasa(
                services.router.tend_waiting,
                services.clock(),
                _say_as_bot(services),
                services.log.latest_customer_message,
                services.rasa.resume,
            ),
        )
        if told and (told["abandoned"] or told["took_callback"]):
            logger.info("Waiting customers: %s", told)

    async def upkeep_loop() -> None:
        while True:
            try:
                lease = services.upkeep_lease
                if lease is not None and not await blocking(lease.held, services.clock()):
                    await asyncio.sleep(QUEUE_UPKEEP_SECONDS)  # another process does it this round
                    continue
                await upkeep_round()
            except Exception:  # a database hiccup must not end the loop; the next round retries
                logger.exception("Queue upkeep failed; retrying in %s s", QUEUE_UPKEEP_SECONDS)
            await asyncio.sleep(QUEUE_UPKEEP_SECONDS)

    @app.listener("after_server_start")
    async def start_upkeep(_app: Sanic, _loop: Any) -> None:
        tasks.append(asyncio.get_running_loop().create_task(upkeep_loop()))

    @app.listener("before_server_stop")
    async def stop_upkeep(_app: Sanic, _loop: Any) -> None:
        for task in tasks:
            task.cancel()
        if services.upkeep_lease is not None:
            try:
                await blocking(services.upkeep_lease.release)  # another process takes over at once
            except Exception:
                logger.exception("Could not release the upkeep lease; it expires by itself")
