"""The public side: the website demo page with the chat widget, the console's, trainers' and analytics
pages, their static files (and the npm packages' bundles they load), and the demo's stand-in for the
company website (it mints customer tokens).

Pages and static files hold no data: everything they show comes from the JSON API, and customer text
is only ever inserted as text. Pages get a strict Content-Security-Policy: scripts only from this
service, no inline scripts, so even a customer message that slipped past escaping could not run.
"""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import file as file_response
from sanic.response import json as json_response

from common.names import DEMO_PERSONAS
from common.settings import Settings
from common.tokens import mint
from escalation.web.app import ApiError, json_body

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
NODE_MODULES = WEB_DIR / "node_modules"
WIDGET_BUNDLE = NODE_MODULES / "rasa-webchat" / "lib" / "index.js"
# Files of npm packages (escalation/web/package.json, installed by `make setup` with npm ci) served under
# /static/ from this origin, so the pages' CSP can keep scripts to 'self': name -> (file, what it is).
NPM_BUNDLES = {
    "webchat.js": (WIDGET_BUNDLE, "The chat widget"),
    "chart.js": (NODE_MODULES / "chart.js" / "dist" / "chart.umd.min.js", "The analytics page's charts (chart.js)"),
}
STATIC_SUFFIXES = (".js", ".css", ".svg", ".png")
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The trainers' page shows confusion charts fetched with the token, as blob: images.
TRAINER_CSP = CONSOLE_CSP.replace("img-src 'self' data:", "img-src 'self' data: blob:")
# The widget injects its styles, and talks socket.io to Rasa.
SITE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self' {socket} {websocket}; frame-ancestors 'none'; base-uri 'none'"
)


def socket_origin(settings: Settings, request: Request) -> str:
    """Where the visitor's browser reaches Rasa's socket.io: configured, or this page's host on RASA_PORT."""
    if settings.widget_socket_url:
        return settings.widget_socket_url.rstrip("/")
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return f"{request.scheme}://{host}:{settings.rasa_port}"


async def _page(name: str, csp: str) -> HTTPResponse:
    response = await file_response(STATIC_DIR / name, mime_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    return response


def site_blueprint() -> Blueprint:
    site = Blueprint("site")

    @site.get("/")
    async def website(request: Request) -> HTTPResponse:
        origin = socket_origin(request.app.ctx.services.settings, request)
        websocket = origin.replace("https://", "wss://").replace("http://", "ws://")
        return await _page("index.html", SITE_CSP.format(socket=origin, websocket=websocket))

    @site.get("/console")
    async def console(_: Request) -> HTTPResponse:
        return await _page("console.html", CONSOLE_CSP)

    @site.get("/trainer")
    async def trainer(_: Request) -> HTTPResponse:
        return await _page("trainer.html", TRAINER_CSP)

    @site.get("/analytics")
    async def analytics(_: Request) -> HTTPResponse:
        return await _page("analytics.html", CONSOLE_CSP)

    @site.get("/static/<name>")
    async def static(_: Request, name: str) -> HTTPResponse:
        if name in NPM_BUNDLES:
            bundle, what = NPM_BUNDLES[name]
            if not bundle.exists():
                raise ApiError(503, f"{what} is not installed: run `make setup` (it runs npm ci).")
            return await file_response(bundle, mime_type="application/javascript")
        path = (STATIC_DIR / name).resolve()
        if path.parent != STATIC_DIR or not path.is_file() or path.suffix not in STATIC_SUFFIXES:
            raise ApiError(404, f"No file {name}.")
        return await file_response(path)

    @site.get("/demo/config")
    async def demo_config(request: Request) -> HTTPResponse:
        settings = request.app.ctx.services.settings
        return json_response(
            {
                "socket_url": socket_origin(settings, request),
                "demo": settings.demo_page_enabled,
                "personas": DEMO_PERSONAS if settings.demo_page_enabled else {},
            }
        )

    @site.post("/demo/token")
    async def demo_token(request: Request) -> HTTPResponse:
        """The demo's stand-in for the company's website, which mints the signed-in customer's token."""
        settings = request.app.ctx.services.settings
        if not settings.demo_page_enabled:
            raise ApiError(404, "The demo page is turned off (DEMO_PAGE_ENABLED=false).")
        body = json_body(request)
        persona = body.get("persona") if body else None
        if persona is None:
            return json_response({"persona": None, "token": None})  # an anonymous visitor
        if not isinstance(persona, str) or persona not in DEMO_PERSONAS:
            raise ApiError(400, f"persona must be one of {list(DEMO_PERSONAS)}, or null for an anonymous visitor.")
        token = mint(
            persona, settings.customer_token_secret, settings.customer_token_issuer, settings.customer_token_ttl_seconds
        )
        return json_response({"persona": persona, "token": token})

    return site
