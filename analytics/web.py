"""The analytics API for team leads and trainers (docs/analytics.md): a blueprint registered into the
escalation service's app by the wiring (service/), so the escalation package never depends on analytics.
Every route needs a signed-in lead or trainer (401 without a valid token, 403 for agents)."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sanic.response import text as text_response

from analytics.reports import Analytics, AnalyticsRequestError
from analytics.whatif import Staff
from escalation.queue.agents import AGENT, LEAD, TRAINER
from escalation.web.accounts import guard
from escalation.web.app import ApiError, Services, blocking, json_body

UPKEEP_REFRESH_SECONDS = 60  # the timer's refresh; every read refreshes too, so this only keeps it warm


async def _answer(work: Callable[..., Any], *args: Any) -> Any:
    try:
        return await blocking(work, *args)
    except AnalyticsRequestError as error:
        body: Dict[str, Any] = {"error": str(error)}
        if error.problems:
            body["problems"] = error.problems
        return json_response(body, status=400)


def _staff(services: Services) -> List[Staff]:
    """Today's roster: the active agents, with their queues and capacity."""
    return [Staff(a.name, a.queues, a.capacity) for a in services.agents.accounts() if a.active and a.role == AGENT]


def upkeep_step(analytics: Analytics) -> Callable[[Services], int]:
    """The service timer's step: at most once a minute, the fact table catches up with the stores."""
    last = [0.0]

    def refresh(_services: Services) -> int:
        if time.monotonic() - last[0] < UPKEEP_REFRESH_SECONDS:
            return 0
        last[0] = time.monotonic()
        return analytics.refresher.refresh()

    return refresh


def analytics_blueprint(analytics: Analytics) -> Blueprint:
    api = guard(Blueprint("analytics", url_prefix="/api/analytics"), role=(LEAD, TRAINER))

    @api.get("/summary")
    async def summary(request: Request) -> HTTPResponse:
        args = request.args
        found = await _answer(analytics.summary, args.get("from"), args.get("to"), args.get("by"))
        return found if isinstance(found, HTTPResponse) else json_response(found)

    @api.get("/conversations")
    async def conversations(request: Request) -> HTTPResponse:
        a = request.args
        found = await _answer(
            analytics.conversations,
            a.get("from"),
            a.get("to"),
            a.get("by"),
            a.get("key"),
            a.get("metric"),
            a.get("limit"),
        )
        return found if isinstance(found, HTTPResponse) else json_response(found)

    @api.get("/conversations/<conversation_id>")
    async def conversation(request: Request, conversation_id: str) -> HTTPResponse:
        found = await blocking(analytics.conversation, conversation_id)
        if found is None:
            raise ApiError(404, f"No conversation {conversation_id} in the analytics.")
        return json_response(found)

    @api.get("/export.csv")
    async def export(request: Request) -> HTTPResponse:
        a = request.args
        first, last, by = a.get("from"), a.get("to"), a.get("by")
        if a.get("what") == "conversations":
            body = await _answer(analytics.conversations_csv, first, last, by, a.get("key"), a.get("metric"))
        elif a.get("what") in (None, "summary"):
            body = await _answer(analytics.summary_csv, first, last, by)
        else:
            raise ApiError(400, "what must be summary (the default) or conversations.")
        if isinstance(body, HTTPResponse):
            return body
        name = await blocking(analytics.csv_name, first, last, by)
        return text_response(
            body,
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.get("/misunderstood")
    async def misunderstood(request: Request) -> HTTPResponse:
        a = request.args
        found = await _answer(analytics.misunderstood, a.get("from"), a.get("to"), a.get("limit"))
        return found if isinstance(found, HTTPResponse) else json_response(found)

    @api.get("/rules")
    async def rules(_: Request) -> HTTPResponse:
        return json_response({"yaml": await blocking(analytics.rules_text)})

    @api.post("/whatif")
    async def whatif(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        staff = await blocking(_staff, services)
        handle_seconds = await blocking(services.router.handle_seconds)
        found = await _answer(analytics.whatif, json_body(request), staff, handle_seconds)
        return found if isinstance(found, HTTPResponse) else json_response(found)

    return api
