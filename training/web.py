"""The trainers' API (trainer role): the review inbox, labelling into data/, releases and rollback.
A blueprint registered into the escalation service's app by the top-level wiring (service/), so the
escalation package never depends on training."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Type

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import file as file_response
from sanic.response import json as json_response

from escalation.queue.agents import TRAINER
from escalation.web.accounts import guard
from escalation.web.app import ApiError, Services, blocking, calling_rasa, json_body
from training.dissatisfaction_labels import DissatisfactionLabeller, labelled
from training.inbox import inbox_from_stores
from training.jobs import ReleaseBusy, ReleaseJobs
from training.labels import LabelError, Labeller
from training.project import BotProject
from training.release import read_state, rollback
from training.store import ReviewStore

# Trainers' errors and the HTTP status they become (handed to the app factory).
ERROR_STATUSES: Dict[Type[Exception], int] = {LabelError: 400, ReleaseBusy: 409}
FEELING_USAGE = 'Send {"texts": [...], "label": "dissatisfied|not_dissatisfied"}.'
LABEL_USAGE = (
    'Send {"texts": [...], "kind": "intent|faq|new_faq|out_of_scope", "name": ..., '
    '"answer": ... (new FAQ topics only)}.'
)


@dataclass(frozen=True)
class Training:
    """What the trainers' routes work with."""

    project: BotProject
    reviews: ReviewStore
    labeller: Labeller
    feelings: ReviewStore  # dissatisfaction labels
    feeling_labeller: DissatisfactionLabeller
    jobs: ReleaseJobs


def trainers_blueprint(training: Training) -> Blueprint:
    api = guard(Blueprint("trainers", url_prefix="/api/training"), role=TRAINER)

    @api.get("/inbox")
    async def inbox(request: Request) -> HTTPResponse:
        services: Services = request.app.ctx.services
        below = services.settings.review_confidence_below
        groups = await blocking(
            inbox_from_stores,
            services.log,
            services.queue,
            training.reviews,
            training.feelings,
            training.project,
            below,
        )
        return json_response({"confidence_below": below, "groups": [g.as_json() for g in groups]})

    @api.get("/labels")
    async def label_choices(request: Request) -> HTTPResponse:
        intents, topics = await blocking(training.project.intents), await blocking(training.project.faq_topics)
        return json_response(
            {"intents": intents, "faq_topics": topics, "heldout_share": request.app.ctx.services.settings.heldout_share}
        )

    @api.post("/labels")
    async def label(request: Request) -> HTTPResponse:
        body = json_body(request)
        if body is None or not isinstance(body.get("texts"), list):
            raise ApiError(400, LABEL_USAGE)
        result = await blocking(
            training.labeller.label,
            body["texts"],
            body.get("kind"),
            body.get("name"),
            body.get("answer"),
            trainer=request.ctx.agent.name,
        )
        return json_response(result.as_json(), status=201)

    @api.post("/dissatisfaction")
    async def label_feeling(request: Request) -> HTTPResponse:
        body = json_body(request)
        if body is None or not isinstance(body.get("texts"), list):
            raise ApiError(400, FEELING_USAGE)
        result = await blocking(
            training.feeling_labeller.label, body["texts"], body.get("label"), trainer=request.ctx.agent.name
        )
        return json_response(result.as_json(), status=201)

    @api.get("/dissatisfaction")
    async def feeling_labels(_: Request) -> HTTPResponse:
        known = await blocking(labelled, training.project)
        counts = Counter(f"{label} ({where})" for label, where in known.values())
        recent = await blocking(training.feelings.recent, 200)
        return json_response(
            {
                "counts": dict(sorted(counts.items())),
                "recent": [{**dataclasses.asdict(r), "created_at": r.created_at.isoformat()} for r in recent],
            }
        )

    @api.get("/reviews")
    async def reviews(_: Request) -> HTTPResponse:
        recent = await blocking(training.reviews.recent, 200)
        return json_response([{**dataclasses.asdict(r), "created_at": r.created_at.isoformat()} for r in recent])

    @api.post("/releases")
    async def start_release(request: Request) -> HTTPResponse:
        run_id = await blocking(training.jobs.start, request.ctx.agent.name)  # ReleaseBusy: 409
        return json_response({"id": run_id, "state": "running"}, status=202)

    @api.get("/releases")
    async def releases(request: Request) -> HTTPResponse:
        rasa = request.app.ctx.services.rasa
        try:
            serving = await calling_rasa(rasa.loaded_model)
        except Exception as error:  # RasaUnavailable or a network fault: say so, show the rest
            serving = f"unknown (Rasa did not answer: {error})"
        return json_response(
            {
                "models": {**(await blocking(read_state, training.project)), "serving": serving},
                "runs": await blocking(training.jobs.recent),
            }
        )

    @api.get("/releases/<run_id>")
    async def release_status(_: Request, run_id: str) -> HTTPResponse:
        status = await blocking(training.jobs.status, run_id)
        if not status:
            raise ApiError(404, f"No release {run_id}.")
        return json_response(status)

    @api.get("/releases/<run_id>/confusion.png")
    async def release_chart(_: Request, run_id: str) -> HTTPResponse:
        path = await blocking(training.jobs.confusion_chart, run_id)
        if not path:
            raise ApiError(404, "No chart for that release.")
        return await file_response(path, mime_type="image/png")

    @api.post("/rollback")
    async def roll_back(request: Request) -> HTTPResponse:
        try:
            done = await blocking(rollback, training.project, request.app.ctx.services.settings)
        except RuntimeError as problem:
            raise ApiError(409, str(problem)) from None
        return json_response(done)

    return api
