"""The escalation service (port 8000): the website demo page, the agent console and the agents' API.

Pages: `/` is a help-centre page with the chat widget (rasa-webchat, talking socket.io to Rasa);
`/console` is the agents' console. Both are static files in escalation/web/static; everything they
show comes from the JSON API below, and customer text is only ever inserted as text.

API: `POST /api/sign-in` exchanges an agent's name and password for a bearer token; every other
`/api/` route needs it. An agent keeps a claimed handoff while they work on it (reading it or its
messages renews the lease); one who goes silent past the lease loses it back to the queue. Agents
write into the customer's chat with `POST /api/handoffs/{id}/messages`; the customer's messages come
from Rasa's tracker store (`GET /api/handoffs/{id}/messages?after=N&wait=S` answers as soon as there
is something newer than N). Resolving hands the conversation back to the bot, which asks for a CSAT
rating. Errors are JSON `{"error": "..."}`: 401 without valid credentials, 403 for another agent's
handoff, 404, 409 when another agent was faster or the handoff is closed, 400 for bad input, 502 when
Rasa cannot be reached. Handlers only parse, call the queue or Rasa, and map errors.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, file as file_response, json as json_response

from escalation.agents import AGENT, TRAINER, Agent, AgentDirectory, agent_from_token, agent_token
from escalation.conversation_log import ConversationLog
from escalation.policy import load_rules
from escalation.queue import ASSIGNED, ClaimConflict, HandoffQueue, NotFound
from escalation.rasa_client import RasaClient, RasaUnavailable
from escalation.sentiment import score_message
from supportbot.screening import screen_text
from supportbot.profiles import CustomerRepository, engine_for
from supportbot.settings import Settings, load_settings
from supportbot.tokens import mint
from supportbot.vocabulary import DEMO_PERSONAS
from training.inbox import inbox_from_stores
from training.jobs import ReleaseBusy, ReleaseJobs
from training.labels import LabelError, Labeller
from training.project import BotProject
from training.store import ReviewStore

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"
STATIC_DIR = WEB_DIR / "static"
WIDGET_BUNDLE = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
PUBLIC_PATHS = ("/health", "/api/sign-in")
# Which role may use which part of the API; /api/me and sign-in are for everyone.
ROLE_PREFIXES = (("/api/handoffs", AGENT), ("/api/queues", AGENT), ("/api/training", TRAINER))
QUEUE_UPKEEP_SECONDS = 5  # how often silent agents' leases expire and SLA breaches are recorded
LONG_POLL_MAX_SECONDS = 25
LONG_POLL_INTERVAL_SECONDS = 0.15
# Pages get a strict Content-Security-Policy: scripts only from this service, no inline scripts, so
# even a customer message that slipped past escaping could not run. The widget injects its styles.
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SITE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; "
            "connect-src 'self' {socket} {websocket}; frame-ancestors 'none'; base-uri 'none'")
LIST_FIELDS = ("id", "conversation_id", "customer_id", "tier", "queue", "priority", "channel", "sla_due_at", "reasons",
               "status", "agent_id", "sla_breached_at", "created_at", "segment")


def _error(status: int, message: str) -> HTTPResponse:
    return json_response({"error": message}, status=status)


def _plain(handoff, fields=None) -> dict:
    data = dataclasses.asdict(handoff)
    if fields:
        data = {k: data[k] for k in fields}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def socket_origin(settings: Settings, request: Request) -> str:
    """Where the visitor's browser reaches Rasa's socket.io: configured, or this page's host on RASA_PORT."""
    if settings.widget_socket_url:
        return settings.widget_socket_url.rstrip("/")
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return f"{request.scheme}://{host}:{settings.rasa_port}"


@dataclass
class Training:
    """What the trainers' routes work with."""

    project: BotProject
    reviews: ReviewStore
    labeller: Labeller
    jobs: ReleaseJobs


def create_app(settings: Settings, queue: HandoffQueue, agents: AgentDirectory, customers: CustomerRepository,
               rasa: RasaClient, log: ConversationLog, training: Training,
               clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Sanic:
    rules = load_rules()  # refuses to start with invalid rules, saying what is wrong
    app = Sanic(f"escalation-{uuid.uuid4().hex[:8]}")
    app.config.RESPONSE_TIMEOUT = LONG_POLL_MAX_SECONDS + 30

    def signed_in(request: Request) -> Optional[Agent]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return agent_from_token(token.strip(), settings.agent_token_secret, agents)

    @app.middleware("request")
    async def authenticate(request: Request):
        if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
            return None  # pages and static files hold no data; everything they show comes from /api
        agent = signed_in(request)
        if agent is None:
            return _error(401, "Sign in: send an agent's token as 'Authorization: Bearer <token>'.")
        needed = next((role for prefix, role in ROLE_PREFIXES if request.path.startswith(prefix)), None)
        if needed and agent.role != needed:
            return _error(403, f"This needs the {needed} role; {agent.name} is a{'n' if agent.role == AGENT else ''} "
                               f"{agent.role}.")
        request.ctx.agent = agent
        return None

    @app.middleware("response")
    async def no_sniffing(_: Request, response: HTTPResponse):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")

    async def queue_upkeep() -> None:
        """Returns silent agents' handoffs to the queue and records SLA breaches, on a timer (not
        when someone happens to list the queue). Both are idempotent, so replicas may all run it."""
        while True:
            try:
                now = clock()
                released, breached = queue.release_expired_leases(now), queue.record_sla_breaches(now)
                if released or breached:
                    logger.info("Queue upkeep: %d lease(s) expired, %d SLA breach(es) recorded", released, breached)
            except Exception:  # a database hiccup must not end the loop; the next round retries
                logger.exception("Queue upkeep failed; retrying in %s s", QUEUE_UPKEEP_SECONDS)
            await asyncio.sleep(QUEUE_UPKEEP_SECONDS)

    upkeep: list = []

    @app.listener("after_server_start")
    async def start_upkeep(app_: Sanic, _loop) -> None:
        upkeep.append(asyncio.get_running_loop().create_task(queue_upkeep()))

    @app.listener("before_server_stop")
    async def stop_upkeep(_app: Sanic, _loop) -> None:
        for task in upkeep:
            task.cancel()

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    # --- pages -------------------------------------------------------------------------------------
    async def page(name: str, csp: str) -> HTTPResponse:
        response = await file_response(STATIC_DIR / name, mime_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = csp
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    async def website(request: Request) -> HTTPResponse:
        origin = socket_origin(settings, request)
        websocket = origin.replace("https://", "wss://").replace("http://", "ws://")
        return await page("index.html", SITE_CSP.format(socket=origin, websocket=websocket))

    @app.get("/console")
    async def console(_: Request) -> HTTPResponse:
        return await page("console.html", CONSOLE_CSP)

    @app.get("/trainer")
    async def trainer_page(_: Request) -> HTTPResponse:
        return await page("trainer.html", CONSOLE_CSP.replace("img-src 'self' data:", "img-src 'self' data: blob:"))

    @app.get("/static/<name>")
    async def static(_: Request, name: str) -> HTTPResponse:
        if name == "webchat.js":  # the npm package rasa-webchat, installed by `make setup`
            if not WIDGET_BUNDLE.exists():
                return _error(503, "The chat widget is not installed: run `make setup` (it runs npm ci).")
            return await file_response(WIDGET_BUNDLE, mime_type="application/javascript")
        path = (STATIC_DIR / name).resolve()
        if path.parent != STATIC_DIR or not path.is_file() or path.suffix not in (".js", ".css", ".svg", ".png"):
            return _error(404, f"No file {name}.")
        return await file_response(path)

    @app.get("/demo/config")
    async def demo_config(request: Request) -> HTTPResponse:
        return json_response({"socket_url": socket_origin(settings, request), "demo": settings.demo_page_enabled,
                              "personas": DEMO_PERSONAS if settings.demo_page_enabled else {}})

    @app.post("/demo/token")
    async def demo_token(request: Request) -> HTTPResponse:
        """The demo's stand-in for the company's website, which mints the signed-in customer's token."""
        if not settings.demo_page_enabled:
            return _error(404, "The demo page is turned off (DEMO_PAGE_ENABLED=false).")
        body = request.json if request.body else None
        persona = body.get("persona") if isinstance(body, dict) else None
        if persona is None:
            return json_response({"persona": None, "token": None})  # an anonymous visitor
        if persona not in DEMO_PERSONAS:
            return _error(400, f"persona must be one of {list(DEMO_PERSONAS)}, or null for an anonymous visitor.")
        token = mint(persona, settings.customer_token_secret, settings.customer_token_issuer,
                     settings.customer_token_ttl_seconds)
        return json_response({"persona": persona, "token": token})

    # --- sign-in -----------------------------------------------------------------------------------
    @app.post("/api/sign-in")
    async def sign_in(request: Request) -> HTTPResponse:
        body = request.json if request.body else None
        if not isinstance(body, dict):
            return _error(400, 'Send {"agent": "<name>", "password": "<password>"}.')
        agent = await asyncio.get_running_loop().run_in_executor(
            None, agents.authenticate, body.get("agent"), body.get("password"))
        if agent is None:
            await asyncio.sleep(0.5)  # slows down guessing
            return _error(401, "Unknown agent or wrong password.")
        return json_response({"token": agent_token(agent.name, settings.agent_token_secret),
                              "agent": dataclasses.asdict(agent)})

    @app.get("/api/me")
    async def me(request: Request) -> HTTPResponse:
        return json_response(dataclasses.asdict(request.ctx.agent))

    @app.get("/api/queues")
    async def queues(_: Request) -> HTTPResponse:
        return json_response({"queues": list(rules.queues)})

    # --- the queue ---------------------------------------------------------------------------------
    @app.get("/api/handoffs")
    async def list_handoffs(request: Request) -> HTTPResponse:
        status = request.args.get("status", "waiting")
        if status not in ("waiting", "assigned", "resolved", "abandoned"):
            return _error(400, "status must be waiting, assigned, resolved or abandoned")
        return json_response([_plain(h, LIST_FIELDS) for h in queue.list(status)])

    def renew_if_mine(handoff, agent: Agent):
        if handoff.status == ASSIGNED and handoff.agent_id == agent.name:
            return queue.heartbeat(handoff.id, agent.name, clock())  # still working on it
        return handoff

    @app.get("/api/handoffs/<handoff_id>")
    async def show(request: Request, handoff_id: str) -> HTTPResponse:
        try:
            handoff = renew_if_mine(queue.get(handoff_id), request.ctx.agent)
        except NotFound:
            return _error(404, f"No handoff {handoff_id}.")
        customer = customers.get(handoff.customer_id) if handoff.customer_id else None
        messages = log.messages(handoff.conversation_id)
        trend = [round(score_message(m.text).compound, 3) for m in messages if m.sender == "customer"]
        return json_response({
            **_plain(handoff),
            "profile": _plain(customer) if customer else None,
            "sentiment_trend": trend,
            "transcript": [m.as_json() for m in messages],
            "cursor": messages[-1].id if messages else 0,
        })

    @app.get("/api/handoffs/<handoff_id>/messages")
    async def new_messages(request: Request, handoff_id: str) -> HTTPResponse:
        """Messages newer than `after`; waits up to `wait` seconds (at most 25) for one to arrive."""
        try:
            after = int(request.args.get("after", 0))
            wait = min(float(request.args.get("wait", 0)), LONG_POLL_MAX_SECONDS)
        except ValueError:
            return _error(400, "after must be a whole number and wait a number of seconds.")
        try:
            handoff = queue.get(handoff_id)
        except NotFound:
            return _error(404, f"No handoff {handoff_id}.")
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            messages = log.messages(handoff.conversation_id, after)
            if messages or time.monotonic() >= deadline:
                break
            await asyncio.sleep(LONG_POLL_INTERVAL_SECONDS)
        handoff = renew_if_mine(queue.get(handoff_id), request.ctx.agent)
        return json_response({"messages": [m.as_json() for m in messages],
                              "cursor": messages[-1].id if messages else after,
                              "status": handoff.status, "agent_id": handoff.agent_id})

    def owned(handoff_id: str, agent: Agent):
        """(the handoff, None) when `agent` has it, else (None, the error response to send)."""
        try:
            handoff = queue.get(handoff_id)
        except NotFound:
            return None, _error(404, f"No handoff {handoff_id}.")
        if handoff.agent_id != agent.name:
            return None, _error(403, f"Handoff {handoff_id} is not yours"
                                + (f" (it belongs to {handoff.agent_id})." if handoff.agent_id else "; claim it first."))
        if handoff.status != ASSIGNED:
            return None, _error(409, f"Handoff {handoff_id} is {handoff.status}.")
        return handoff, None

    @app.post("/api/handoffs/<handoff_id>/messages")
    async def send_message(request: Request, handoff_id: str) -> HTTPResponse:
        body = request.json if request.body else None
        screened = screen_text(body.get("text") if isinstance(body, dict) else None, settings.max_message_chars)
        if screened.problem:
            return _error(400, f'Send {{"text": "..."}} with 1 to {settings.max_message_chars} characters.')
        handoff, refusal = owned(handoff_id, request.ctx.agent)
        if refusal:
            return refusal
        agent = request.ctx.agent
        try:
            rasa.say_as_agent(handoff.conversation_id, screened.text, agent.name, agent.display_name)
        except RasaUnavailable as error:
            return _error(502, f"The message could not be delivered ({error}); try again.")
        queue.heartbeat(handoff_id, agent.name, clock())
        return json_response({"sent": True, "text": screened.text}, status=201)

    @app.post("/api/handoffs/<handoff_id>/claim")
    async def claim(request: Request, handoff_id: str) -> HTTPResponse:
        agent = request.ctx.agent
        try:
            handoff = queue.claim(handoff_id, agent.name, clock())
        except NotFound:
            return _error(404, f"No handoff {handoff_id}.")
        except ClaimConflict as conflict:
            return _error(409, f"Cannot claim: {conflict}.")
        if handoff.channel == "live_chat":
            first_name = agent.display_name.split()[0]
            try:  # the customer learns a person has joined; the claim stands even if this fails
                rasa.say_as_agent(handoff.conversation_id, f"Hi, this is {first_name} from the Larkspur support team. "
                                  "I've read your conversation so far and I'm here to help.", agent.name,
                                  agent.display_name)
            except RasaUnavailable as error:
                logger.warning("Could not greet the customer of %s: %s", handoff_id, error)
        return json_response(_plain(handoff))

    @app.post("/api/handoffs/<handoff_id>/resolve")
    async def resolve(request: Request, handoff_id: str) -> HTTPResponse:
        handoff, refusal = owned(handoff_id, request.ctx.agent)
        if refusal:
            return refusal
        try:
            rasa.hand_back_asking_for_csat(handoff.conversation_id, handoff.id)
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

    # --- trainers ----------------------------------------------------------------------------------
    @app.get("/api/training/inbox")
    async def inbox(_: Request) -> HTTPResponse:
        groups = await asyncio.get_running_loop().run_in_executor(
            None, inbox_from_stores, log, queue, training.reviews, training.project, settings.review_confidence_below)
        return json_response({"confidence_below": settings.review_confidence_below,
                              "groups": [g.as_json() for g in groups]})

    @app.get("/api/training/labels")
    async def label_choices(_: Request) -> HTTPResponse:
        return json_response({"intents": training.project.intents(), "faq_topics": training.project.faq_topics(),
                              "heldout_share": settings.heldout_share})

    @app.post("/api/training/labels")
    async def label(request: Request) -> HTTPResponse:
        body = request.json if request.body else None
        if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
            return _error(400, 'Send {"texts": [...], "kind": "intent|faq|new_faq|out_of_scope", "name": ..., '
                               '"answer": ... (new FAQ topics only)}.')
        try:
            result = training.labeller.label(body["texts"], body.get("kind"), body.get("name"), body.get("answer"),
                                             trainer=request.ctx.agent.name)
        except LabelError as problem:
            return _error(400, str(problem))
        return json_response(result.as_json(), status=201)

    @app.get("/api/training/reviews")
    async def reviews(_: Request) -> HTTPResponse:
        return json_response([{**dataclasses.asdict(r), "created_at": r.created_at.isoformat()}
                              for r in training.reviews.recent(200)])

    @app.post("/api/training/releases")
    async def start_release(request: Request) -> HTTPResponse:
        try:
            run_id = training.jobs.start(request.ctx.agent.name)
        except ReleaseBusy as busy:
            return _error(409, f"Wait for the running release to finish ({busy}).")
        return json_response({"id": run_id, "state": "running"}, status=202)

    @app.get("/api/training/releases")
    async def releases(_: Request) -> HTTPResponse:
        from training.release import read_state

        try:
            serving = rasa.loaded_model()
        except RasaUnavailable as error:
            serving = f"unknown (Rasa did not answer: {error})"
        return json_response({"models": {**read_state(training.project), "serving": serving},
                              "runs": training.jobs.recent()})

    @app.get("/api/training/releases/<run_id>")
    async def release_status(_: Request, run_id: str) -> HTTPResponse:
        status = training.jobs.status(run_id)
        return json_response(status) if status else _error(404, f"No release {run_id}.")

    @app.get("/api/training/releases/<run_id>/confusion.png")
    async def release_chart(_: Request, run_id: str) -> HTTPResponse:
        path = training.jobs.confusion_chart(run_id)
        return await file_response(path, mime_type="image/png") if path else _error(404, "No chart for that release.")

    @app.post("/api/training/rollback")
    async def roll_back(_: Request) -> HTTPResponse:
        from training.release import rollback

        try:
            done = await asyncio.get_running_loop().run_in_executor(None, rollback, training.project, settings)
        except RuntimeError as problem:
            return _error(409, str(problem))
        return json_response(done)

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception) -> HTTPResponse:
        if isinstance(sys.exc_info()[1], asyncio.CancelledError):
            # Sanic cancelled the handler because the client left (e.g. closed the console during a
            # long-poll) and reports it as a 503; nothing went wrong on our side.
            logger.debug("Client went away during %s", request.path)
            return _error(499, "The client closed the request.")
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
    agents.seed_demo_agents(settings.demo_agent_password)
    project = BotProject(Path(settings.bot_project_dir))
    reviews = ReviewStore(engine)
    reviews.create_schema()
    from supportbot.launcher import process_env

    training = Training(project, reviews, Labeller(project, reviews, settings.heldout_share),
                        ReleaseJobs(project.root / "var" / "releases", process_env(settings)))
    return create_app(settings, queue, agents, CustomerRepository(engine),
                      RasaClient(settings.rasa_url, settings.rasa_token),
                      ConversationLog.for_sqlite_file(settings.tracker_db_path), training)


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level)
    build(settings).run(host="127.0.0.1", port=settings.escalation_port, access_log=False)


if __name__ == "__main__":
    main()
