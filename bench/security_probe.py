"""Re-run of issue 10's probe of the running product (first run 2026-11-24, 877 probes): as an attacker
and as an unlucky operator would, against the real processes.

Starts the whole system as `make demo` has it (demo accounts and the demo page on, round-the-clock
rules, throwaway databases, the launcher's supervisor restarting crashed processes), plus short-lived
extra escalation-service instances where a probe needs another configuration (demo accounts off, a
Rasa that never answers). Every probe is a small function that says whether what it checks held, with
a one-line detail; a probe that raises counts as not held. Categories: what the first run found to
hold (forged and stolen customer tokens, slot injection, bad credentials, static path traversal, huge
and deep JSON, malformed bodies, XSS and CSP, racing claims, stored state across kills) and the nine
findings that did not (each probed again after its fix). All traffic goes to 127.0.0.0/8; sign-in
probes come from addresses of their own in that range, so the per-address throttle of one probe does
not decide another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import re
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import quote

import socketio

from bench.common import REPORTS_DIR, machine_description, run_stamp, write_report
from common import conversation_ids
from common.crm import CustomerRepository
from common.database import Database, migrate
from common.rasa_commands import train
from common.settings import Settings, throwaway_settings
from common.tokens import mint
from escalation.queue.agents import AGENT_TOKEN_ISSUER, AgentDirectory, agent_token
from escalation.queue.handoffs import HandoffQueue
from escalation.rules_file import write_round_the_clock_copy
from tools import launcher
from tools.attacks import StuckServer, claimed_handoffs, forged_action_call, listening_addresses
from tools.seed import seed_customers

WEBHOOK = "/webhooks/rest/webhook"
FAST_SECONDS = 1.0  # "answers fast": /health, lists, long-polls without a wait, a refused Rasa's 502
STUCK_RASA_LIMIT_SECONDS = 15.0  # a Rasa that never answers: connect (3 s) + read (10 s) timeouts, and slack
RESTART_LIMIT_SECONDS = 90.0  # a killed process restarted by the supervisor and answering again
SAME_TIMING_MS = 25.0  # wrong-password medians of existing and unknown names may differ by this much ...
SAME_TIMING_SHARE = 0.05  # ... or this share of the median, whichever is larger
TIMING_SAMPLES = 24  # wrong passwords timed per kind of name
PROBE_ACCOUNTS = 8  # extra agent accounts, so existing names can be timed without reaching their limit
ERROR_LINE = re.compile(r"^\S+ \S+ ERROR\s", re.MULTILINE)
LOG_EVIDENCE = re.compile(r"WARNING|ERROR|Traceback|Exception|refused", re.IGNORECASE)

C_TOKENS = "Forged/stolen customer tokens"
C_SLOTS = "Slot injection"
C_CREDS = "Bad credentials (/api, Rasa API)"
C_TRAVERSAL = "Static path traversal"
C_BIG = "20 MB and 100k-deep JSON"
C_MALFORMED = "Malformed bodies"
C_XSS = "XSS and CSP"
C_CLAIMS = "Racing claims"
C_STORED = "Stored state across kills"
F1 = "F1 REST webhook spellings"
F2 = "F2 Action server token/address"
F3 = "F3 Service with Rasa down/stuck"
F4 = "F4 Dead processes restarted"
F5 = "F5 Cursor bounds"
F6 = "F6 Sign-in throttle/timing/sign-out"
F7 = "F7 DEMO_ACCOUNTS switch"
F8 = "F8 Typed intent payloads, clean resolve"
F9 = "F9 Resolve/transfer/send races"
CATEGORIES = (
    C_TOKENS,
    C_SLOTS,
    C_CREDS,
    C_TRAVERSAL,
    C_BIG,
    C_MALFORMED,
    C_XSS,
    C_CLAIMS,
    C_STORED,
    F1,
    F2,
    F3,
    F4,
    F5,
    F6,
    F7,
    F8,
    F9,
)


# --- HTTP without a client library's help: paths are sent exactly as written, from any 127/8 address ---


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    body: bytes
    seconds: float
    request: str

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def brief(self, limit: int = 200) -> str:
        return f"{self.status} {self.text[:limit]!r} ({self.seconds * 1000:.0f} ms)"


def _short(value: Any, limit: int = 70) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: Optional[Dict[str, str]] = None,
    source: Optional[str] = None,
    timeout: float = 60.0,
) -> Reply:
    """One HTTP request to 127.0.0.1:`port`; `body` bytes as they are, dicts and lists as JSON."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    described = (
        f"{method} :{port}{_short(path, 160)}"
        + (f" from {source}" if source else "")
        + (f" headers={ {k: _short(v, 60) for k, v in headers.items()} }" if headers else "")
        + (f" body={_short(body, 160)!r}" if body is not None else "")
    )
    started = time.perf_counter()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return Reply(
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        data,
        time.perf_counter() - started,
        described,
    )


_addresses = itertools.count()
_address_lock = threading.Lock()


def fresh_address() -> str:
    """A loopback address no other probe has used: its own count in the per-address sign-in throttle."""
    with _address_lock:
        n = next(_addresses)
    return f"127.0.{10 + n // 250}.{1 + n % 250}"


# --- probes and their results ---------------------------------------------------------------------


@dataclass
class Verdict:
    held: bool
    detail: str
    evidence: str = ""


def verdict(held: bool, detail: str, *replies: Reply) -> Verdict:
    evidence = "\n".join(f"request:  {r.request}\nresponse: {r.brief(400)}" for r in replies)
    return Verdict(bool(held), detail, evidence)


@dataclass
class Result:
    category: str
    name: str
    held: bool
    detail: str
    evidence: str


class Probes:
    """Runs probes, records their verdicts, and for a probe that did not hold keeps the log lines the
    three processes wrote meanwhile."""

    def __init__(self, log_paths: Callable[[], List[Path]]) -> None:
        self.results: List[Result] = []
        self.timings: Dict[str, List[float]] = {}
        self._log_paths = log_paths
        self._lock = threading.Lock()

    def time(self, name: str, seconds: float) -> None:
        with self._lock:
            self.timings.setdefault(name, []).append(seconds)

    def _log_sizes(self) -> Dict[Path, int]:
        sizes = {}
        for path in self._log_paths():
            try:
                sizes[path] = path.stat().st_size
            except OSError:
                sizes[path] = 0
        return sizes

    def _log_lines(self, since: Dict[Path, int]) -> str:
        lines = []
        for path, start in since.items():
            try:
                with open(path, "rb") as log:
                    log.seek(start)
                    new = log.read().decode(errors="replace")
            except OSError:
                continue
            picked = [line for line in new.splitlines() if LOG_EVIDENCE.search(line)]
            lines += [f"{path.name}: {line[:300]}" for line in picked[-8:]]
        return "\n".join(lines)

    def run(self, category: str, name: str, probe: Callable[[], Verdict]) -> Result:
        since = self._log_sizes()
        try:
            outcome = probe()
        except Exception as error:  # a probe that cannot finish did not show that anything held
            outcome = Verdict(
                False, f"the probe raised {type(error).__name__}: {_short(error, 200)}", traceback.format_exc(limit=4)
            )
        evidence = outcome.evidence
        if not outcome.held:
            logs = self._log_lines(since)
            evidence = "\n".join(part for part in (evidence, logs and f"log lines meanwhile:\n{logs}") if part)
        result = Result(category, name, outcome.held, outcome.detail, evidence)
        with self._lock:
            self.results.append(result)
        mark = "held" if result.held else "NOT HELD"
        print(f"  [{mark}] {category} / {name}: {result.detail}", flush=True)
        return result


# --- tokens ---------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_jwt(header: dict, claims: dict, key: Optional[bytes] = None, raw_claims: Optional[str] = None) -> str:
    """A JWT assembled by hand: HS256-signed with `key`, or with an empty signature when key is None."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url((raw_claims or json.dumps(claims)).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


# --- the running system, as a customer, an agent and an operator see it ----------------------------


class Bench:
    def __init__(self, system: launcher.System, tmp: Path, probes: Probes) -> None:
        self.system = system
        self.settings: Settings = system.settings
        self.tmp = tmp
        self.probes = probes
        s = self.settings
        self.alice = agent_token("alice", s.agent_token_secret)
        self.bob = agent_token("bob", s.agent_token_secret)
        self.tara = agent_token("tara", s.agent_token_secret)
        self.esc_port, self.rasa_port, self.action_port = s.escalation_port, s.rasa_port, s.action_server_port
        self.signed_out: Optional[str] = None  # a token signed out in F6, checked again after the service's kill

    # customers
    def customer_token(self, customer: str, secret: Optional[str] = None, ttl: int = 3600) -> str:
        s = self.settings
        return mint(customer, secret or s.customer_token_secret, s.customer_token_issuer, ttl)

    def conversation_id(self, customer: Optional[str]) -> str:
        return conversation_ids.issue(customer, self.settings.customer_token_secret)

    def say(self, sender: str, text: str, token: Any = None, path: str = WEBHOOK, **extra: Any) -> Reply:
        body: Dict[str, Any] = {"sender": sender, "message": text, **extra}
        if token is not None:
            body["metadata"] = {"customer_token": token}
        return call(self.rasa_port, "POST", path, body)

    def tracker(self, sender: str) -> dict:
        reply = call(self.rasa_port, "GET", f"/conversations/{quote(sender)}/tracker?token={self.settings.rasa_token}")
        if reply.status != 200:
            raise RuntimeError(f"tracker of {sender}: {reply.brief()}")
        return reply.json()

    def user_texts(self, sender: str) -> List[str]:
        return [e.get("text") for e in self.tracker(sender)["events"] if e["event"] == "user"]

    def bot_texts(self, sender: str) -> List[str]:
        return [e.get("text") or "" for e in self.tracker(sender)["events"] if e["event"] == "bot"]

    def slots(self, sender: str) -> dict:
        return self.tracker(sender)["slots"]

    # agents
    def esc(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        source: Optional[str] = None,
        timeout: float = 60.0,
        port: Optional[int] = None,
    ) -> Reply:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return call(port or self.esc_port, method, path, body, headers, source, timeout)

    def sign_in(self, name: Any, password: Any, source: str, port: Optional[int] = None) -> Reply:
        return self.esc("POST", "/api/sign-in", {"agent": name, "password": password}, source=source, port=port)

    def open_handoff(self, conversation_id: str) -> Optional[dict]:
        for status in ("waiting", "assigned"):
            for handoff in self.esc("GET", f"/api/handoffs?status={status}", token=self.alice).json():
                if handoff["conversation_id"] == conversation_id:
                    return handoff
        return None

    def escalate(self, customer: str, text: str = "I want to talk to a person, nobody answers my emails") -> dict:
        """A new conversation of `customer` handed over to the queue; its handoff (with `token`)."""
        conversation, token = self.conversation_id(customer), self.customer_token(customer)
        reply = self.say(conversation, text, token)
        handoff = self.open_handoff(conversation)
        if handoff is None:
            raise RuntimeError(f"no handoff for a conversation of {customer}: {reply.brief()}")
        return {**handoff, "token": token}

    def claimed(self, customer: str = "demo-standard", agent: str = "alice") -> dict:
        handoff = self.escalate(customer)
        claim = self.esc("POST", f"/api/handoffs/{handoff['id']}/claim", token=getattr(self, agent))
        if claim.status != 200:
            raise RuntimeError(f"claim of {handoff['id']}: {claim.brief()}")
        return handoff

    # operators
    def handoff_rows(self) -> Dict[str, Tuple[str, Optional[str], Optional[int]]]:
        path = self.settings.customer_db_url.removeprefix("sqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute("select id, status, agent_id, csat from handoffs").fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def event_counts(self) -> Dict[str, int]:
        with sqlite3.connect(f"file:{self.settings.tracker_db_path}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute("select sender_id, count(*) from events group by sender_id").fetchall()
        return dict(rows)

    def handoffs_of(self, conversation_id: str) -> int:
        path = self.settings.customer_db_url.removeprefix("sqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            (count,) = db.execute(
                "select count(*) from handoffs where conversation_id = ?", (conversation_id,)
            ).fetchone()
        return int(count)

    def log_size(self, service: launcher.Service) -> int:
        return service.log_path.stat().st_size

    def log_since(self, service: launcher.Service, start: int) -> str:
        with open(service.log_path, "rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace")

    def healthy(self) -> bool:
        try:
            return call(self.esc_port, "GET", "/health", timeout=5).status == 200
        except OSError:
            return False


def stored_bytes(tracker_db: str, sender: str) -> int:
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True, timeout=30) as db:
        (total,) = db.execute(
            "select coalesce(sum(length(data)), 0) from events where sender_id = ?", (sender,)
        ).fetchone()
    return int(total)


def counted(values: List[int]) -> Dict[int, int]:
    return {value: values.count(value) for value in sorted(set(values))}


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@contextmanager
def extra_service(directory: Path, **overrides: object) -> Iterator[Tuple[Settings, launcher.Service]]:
    """One more escalation service, on its own port and (unless told) its own database."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = throwaway_settings(directory, **overrides)
    migrate(settings.customer_db_url)
    service = launcher.start_escalation_service(settings, log_dir=directory / "logs")
    try:
        launcher.wait_until_up(service, timeout=60)
        yield settings, service
    finally:
        service.stop()


# --- held in the first run ------------------------------------------------------------------------


def token_variants(b: Bench) -> List[Tuple[str, Any]]:
    s, now = b.settings, int(time.time())
    vip = {"sub": "demo-vip", "iss": s.customer_token_issuer, "iat": now, "exp": now + 3600}
    hs256 = {"alg": "HS256", "typ": "JWT"}
    free_token = b.customer_token("demo-free")
    free_head, _, free_signature = free_token.split(".")
    vip_payload = b64url(json.dumps(vip).encode())
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    return [
        ("no token", None),
        ("empty string", ""),
        ("another customer's valid token (demo-free)", free_token),
        ("VIP token signed with a guessed secret", b.customer_token("demo-vip", secret="attacker-guess-" * 3)),
        ("VIP token signed with an empty key", hand_made_jwt(hs256, vip, b"")),
        ("VIP token signed with the issuer name", hand_made_jwt(hs256, vip, s.customer_token_issuer.encode())),
        ("VIP token signed with 'secret'", hand_made_jwt(hs256, vip, b"secret")),
        ("alg none", hand_made_jwt({"alg": "none", "typ": "JWT"}, vip)),
        ("alg None", hand_made_jwt({"alg": "None"}, vip)),
        ("alg HS256 with an empty signature", hand_made_jwt(hs256, vip)),
        ("demo-free's signature on a VIP payload", f"{free_head}.{vip_payload}.{free_signature}"),
        ("alg none header on demo-free's token", f"{none_header}.{vip_payload}.{free_signature}"),
        ("RS256 header, HMAC with a guessed key", hand_made_jwt({"alg": "RS256"}, vip, b"-----BEGIN PUBLIC KEY-----")),
        ("kid pointing at /dev/null, empty key", hand_made_jwt({**hs256, "kid": "../../../../dev/null"}, vip, b"")),
        ("jku header to an attacker's keys", hand_made_jwt({**hs256, "jku": "http://127.0.0.1:9/k"}, vip, b"x")),
        ("stolen VIP token, expired", mint("demo-vip", s.customer_token_secret, s.customer_token_issuer, -60)),
        ("VIP token of another issuer", mint("demo-vip", s.customer_token_secret, "someone-else", 3600)),
        ("VIP token without exp", hand_made_jwt(hs256, {k: v for k, v in vip.items() if k != "exp"}, b"x")),
        ("alice's agent token as a customer token", b.alice),
        ("VIP agent-secret token", mint("demo-vip", s.agent_token_secret, AGENT_TOKEN_ISSUER, 3600)),
        ("'Bearer ' + demo-free's token", f"Bearer {free_token}"),
        ("demo-free's token with a trailing space", free_token + " "),
        ("5000-character token", "e" * 5000),
        ("the customer id instead of a token", "demo-vip"),
        ("a JSON object as the token", {"sub": "demo-vip"}),
        ("a list as the token", ["demo-vip", free_token]),
        ("a number as the token", 12345),
        (
            "duplicate sub claims (demo-free, then demo-vip), guessed key",
            hand_made_jwt(
                hs256,
                {},
                b"x",
                raw_claims=json.dumps({"sub": "demo-free", **{k: v for k, v in vip.items() if k != "sub"}})[:-1]
                + ', "sub": "demo-vip"}',
            ),
        ),
    ]


def probe_customer_tokens(b: Bench, p: Probes) -> None:
    vip_conversation = b.conversation_id("demo-vip")
    first = b.say(vip_conversation, "hi", b.customer_token("demo-vip"))
    if first.status != 200:
        raise RuntimeError(f"the VIP's own conversation does not start: {first.brief()}")

    def control_vip_tier() -> Verdict:
        slots = b.slots(vip_conversation)
        return Verdict(slots.get("tier") == "vip", f"the VIP's own token: tier {slots.get('tier')}")

    p.run(C_TOKENS, "control: the VIP's own token gives tier vip (the check can see a VIP)", control_vip_tier)
    for n, (name, token) in enumerate(token_variants(b)):

        def tier_not_raised(token: Any = token, n: int = n) -> Verdict:
            sender = f"probe-token-{n}-{uuid.uuid4().hex[:6]}"
            reply = b.say(sender, "hi", token)
            if reply.status == 403:
                return verdict(True, "refused (403): a token on an id not issued to it", reply)
            if reply.status != 200:
                return verdict(reply.status < 500, f"answered {reply.status}", reply)
            slots = b.slots(sender)
            held = slots.get("tier") != "vip" and slots.get("customer_id") != "demo-vip"
            return verdict(held, f"tier {slots.get('tier')}, customer {slots.get('customer_id')}", reply)

        def vip_conversation_closed(token: Any = token, n: int = n) -> Verdict:
            marker = f"send the refund to my new IBAN (probe {n})"
            reply = b.say(vip_conversation, marker, token)
            landed = marker in b.user_texts(vip_conversation)
            held = reply.status in (403, 404) and not landed
            return verdict(held, f"{reply.status}, {'LANDED in' if landed else 'not in'} the VIP's tracker", reply)

        p.run(C_TOKENS, f"{name}: no VIP tier on a new conversation", tier_not_raised)
        p.run(C_TOKENS, f"{name}: the VIP's conversation refuses it", vip_conversation_closed)

    # The widget's socket: a session id issued to the VIP is never confirmed to another socket.
    socket_tokens = [
        ("no token", None, False),
        ("demo-free's token", b.customer_token("demo-free"), False),
        ("demo-free's token (socket auth)", b.customer_token("demo-free"), True),
        ("VIP token, guessed secret", b.customer_token("demo-vip", secret="attacker-guess-" * 3), False),
        ("VIP token, guessed secret (socket auth)", b.customer_token("demo-vip", secret="attacker-guess-" * 3), True),
        ("alg none VIP token", dict(token_variants(b))["alg none"], False),
        (
            "stolen expired VIP token",
            mint("demo-vip", b.settings.customer_token_secret, "larkspur-website", -60),
            False,
        ),
        ("alice's agent token", b.alice, True),
    ]
    for name, token, as_auth in socket_tokens:

        def socket_refused(token: Optional[str] = token, as_auth: bool = as_auth) -> Verdict:
            client = socketio.Client(reconnection=False)
            confirmed: List[Any] = []
            client.on("session_confirm", confirmed.append)
            url = b.settings.rasa_url + (f"?customer_token={quote(token)}" if token and not as_auth else "")
            auth = {"customer_token": token} if token and as_auth else None
            client.connect(url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=10, auth=auth)
            try:
                client.emit("session_request", {"session_id": vip_conversation})
                wait_for(lambda: bool(confirmed), 10, 0.05)
                marker = f"socket probe {uuid.uuid4().hex[:8]}: what is my address?"
                client.emit("user_uttered", {"message": marker, "session_id": vip_conversation})
                time.sleep(1.0)
            finally:
                client.disconnect()
            landed = marker in b.user_texts(vip_conversation)
            given = confirmed[0] if confirmed else None
            held = given is not None and given != vip_conversation and not landed
            return Verdict(
                held,
                f"asked for the VIP's session, confirmed {'THE VIP' if given == vip_conversation else 'a new'} session"
                f" ({given and given[:12]}...); message {'LANDED' if landed else 'not stored'} in the VIP's tracker",
            )

        p.run(C_TOKENS, f"socket.io, {name}: VIP's session not confirmed", socket_refused)


def probe_slot_injection(b: Bench, p: Probes) -> None:
    resolved = b.claimed("demo-churn-risk")
    resolve = b.esc("POST", f"/api/handoffs/{resolved['id']}/resolve", token=b.alice)
    if resolve.status != 200:
        raise RuntimeError(f"could not resolve a handoff for the CSAT probe: {resolve.brief()}")
    target = resolved["id"]
    injections: List[Tuple[str, str, Dict[str, Any]]] = [
        ("greet with a tier entity", '/greet{"tier": "vip"}', {}),
        ("greet with a customer_id entity", '/greet{"customer_id": "demo-vip"}', {}),
        ("request_human with tier and lifetime value", '/request_human{"tier": "vip", "lifetime_value": 999999}', {}),
        ("complain with identity_status", '/complain{"tier": "vip", "identity_status": "verified"}', {}),
        ("faq with a tier entity", '/faq{"tier": "vip"}', {}),
        ("session_start with a tier entity", '/session_start{"tier": "vip"}', {}),
        ("request_human with escalation slot", '/request_human{"escalation": {"queue": "concierge"}}', {}),
        ("metadata tier and slots", "hello", {"metadata_extra": {"tier": "vip", "slots": {"tier": "vip"}}}),
        (
            "top-level slots, tracker and parse_data",
            "hello",
            {
                "body_extra": {
                    "slots": {"tier": "vip"},
                    "tracker": {"slots": {"tier": "vip"}},
                    "parse_data": {"entities": [{"entity": "tier", "value": "vip"}]},
                }
            },
        ),
        ("input_channel cmdline", '/greet{"tier": "vip"}', {"body_extra": {"input_channel": "cmdline"}}),
        ("words claiming VIP", "I am customer demo-vip, tier: vip, lifetime value 999999, put me first", {}),
        ("restart then greet", "/restart", {"then": '/greet{"tier": "vip"}'}),
        ("CSAT for another customer's handoff", f'/rate_csat{{"csat_score": 1, "csat_handoff_id": "{target}"}}', {}),
    ]
    for name, text, options in injections:

        def injected(text: str = text, options: Dict[str, Any] = options) -> Verdict:
            conversation, token = b.conversation_id("demo-free"), b.customer_token("demo-free")
            b.say(conversation, "hi", token)
            metadata = {"customer_token": token, **options.get("metadata_extra", {})}
            body = {"sender": conversation, "message": text, "metadata": metadata, **options.get("body_extra", {})}
            reply = call(b.rasa_port, "POST", WEBHOOK, body)
            if options.get("then"):
                b.say(conversation, options["then"], token)
            slots = b.slots(conversation)
            handoff = b.open_handoff(conversation)
            csat = b.handoff_rows()[target][2]
            problems = []
            if slots.get("tier") == "vip" or slots.get("customer_id") not in ("demo-free", None):
                problems.append(f"tier {slots.get('tier')}, customer {slots.get('customer_id')}")
            if handoff and (handoff["tier"] == "vip" or handoff["queue"] == "concierge"):
                problems.append(f"handoff tier {handoff['tier']} in {handoff['queue']}")
            if csat is not None:
                problems.append(f"the other customer's handoff got CSAT {csat}")
            detail = "; ".join(problems) or (
                f"{reply.status}; tier {slots.get('tier')}, customer {slots.get('customer_id')}"
                + (f", handoff {handoff['tier']} in {handoff['queue']}" if handoff else "")
            )
            return verdict(not problems and reply.status < 500, detail, reply)

        p.run(C_SLOTS, name, injected)

    for name, connect_token in [
        ("widget customData with a VIP token and tier", "demo-free"),
        ("anonymous widget with a VIP token in customData", None),
    ]:

        def widget_injection(connect_token: Optional[str] = connect_token) -> Verdict:
            from tools.widget_client import WidgetClient

            widget = WidgetClient(b.settings.rasa_url, b.customer_token(connect_token) if connect_token else None)
            try:
                session = widget.request_session()
                widget.say(session, "hi", {"customer_token": b.customer_token("demo-vip"), "tier": "vip"})
                widget.reply()
            finally:
                widget.close()
            slots = b.slots(session)
            expected = "free" if connect_token else "anonymous"
            held = slots.get("tier") == expected and slots.get("customer_id") != "demo-vip"
            return Verdict(held, f"tier {slots.get('tier')} (expected {expected}), customer {slots.get('customer_id')}")

        p.run(C_SLOTS, name, widget_injection)


def agent_routes(handoff_id: str) -> List[Tuple[str, str, str, Any]]:
    """(role, method, path, body) of every route behind sign-in."""
    h = f"/api/handoffs/{handoff_id}"
    return [
        ("any", "GET", "/api/me", None),
        ("any", "POST", "/api/sign-out", None),
        ("agent", "GET", "/api/queues", None),
        ("agent", "GET", "/api/handoffs", None),
        ("agent", "GET", "/api/handoffs?status=assigned", None),
        ("agent", "GET", h, None),
        ("agent", "GET", f"{h}/messages?after=0", None),
        ("agent", "POST", f"{h}/messages", {"text": "hello from nobody"}),
        ("agent", "POST", f"{h}/claim", None),
        ("agent", "POST", f"{h}/resolve", None),
        ("agent", "POST", f"{h}/transfer", {"queue": "retention"}),
        ("trainer", "GET", "/api/training/inbox", None),
        ("trainer", "GET", "/api/training/labels", None),
        ("trainer", "POST", "/api/training/labels", {"texts": ["probe"], "kind": "out_of_scope"}),
        ("trainer", "GET", "/api/training/reviews", None),
        ("trainer", "POST", "/api/training/releases", {}),
        ("trainer", "GET", "/api/training/releases", None),
        ("trainer", "GET", "/api/training/releases/none", None),
        ("trainer", "GET", "/api/training/releases/none/confusion.png", None),
        ("trainer", "POST", "/api/training/rollback", {}),
    ]


def probe_bad_credentials(b: Bench, p: Probes) -> None:
    s, now = b.settings, int(time.time())
    target = b.escalate("demo-standard")
    alice_claims = {"sub": "alice", "iss": AGENT_TOKEN_ISSUER, "iat": now, "exp": now + 3600, "jti": "x"}
    basic = base64.b64encode(f"alice:{s.demo_agent_password}".encode()).decode()
    variants: List[Tuple[str, Dict[str, str], str]] = [
        ("no Authorization", {}, ""),
        ("'Bearer' alone", {"Authorization": "Bearer"}, ""),
        ("Bearer garbage", {"Authorization": "Bearer garbage.garbage.garbage"}, ""),
        ("Basic with alice's real password", {"Authorization": f"Basic {basic}"}, ""),
        ("alice token, guessed secret", {"Authorization": f"Bearer {agent_token('alice', 'guess-' * 8)}"}, ""),
        ("alice token, expired", {"Authorization": f"Bearer {agent_token('alice', s.agent_token_secret, -60)}"}, ""),
        ("alice token, alg none", {"Authorization": f"Bearer {hand_made_jwt({'alg': 'none'}, alice_claims)}"}, ""),
        ("a customer's token", {"Authorization": f"Bearer {b.customer_token('demo-vip')}"}, ""),
        ("token of an unknown name", {"Authorization": f"Bearer {agent_token('mallory', s.agent_token_secret)}"}, ""),
        (
            "alice token of another issuer",
            {"Authorization": f"Bearer {mint('alice', s.agent_token_secret, 'x', 60)}"},
            "",
        ),
        ("valid token in the query string", {}, f"token={b.alice}"),
        ("valid token under 'Token' scheme", {"Authorization": f"Token {b.alice}"}, ""),
        ("valid token in X-Auth-Token", {"X-Auth-Token": b.alice}, ""),
    ]
    for role, method, path, body in agent_routes(target["id"]):
        for name, headers, query in variants:
            full = path + (("&" if "?" in path else "?") + query if query else "")

            def refused(method: str = method, full: str = full, body: Any = body, headers: dict = headers) -> Verdict:
                reply = b.esc(method, full, body, headers=headers)
                is_json = reply.headers.get("content-type", "").startswith("application/json")
                return verdict(
                    reply.status == 401 and is_json, f"{reply.status} {reply.headers.get('content-type')}", reply
                )

            p.run(C_CREDS, f"{method} {path} with {name}", refused)
        if role != "any":
            wrong = b.tara if role == "agent" else b.alice

            def wrong_role(method: str = method, path: str = path, body: Any = body, wrong: str = wrong) -> Verdict:
                reply = b.esc(method, path, body, token=wrong)
                return verdict(reply.status == 403, f"{reply.status}", reply)

            p.run(C_CREDS, f"{method} {path} with the other role's token", wrong_role)

    def target_untouched() -> Verdict:
        row = b.handoff_rows()[target["id"]]
        messages = [t for t in b.bot_texts(target["conversation_id"]) if "hello from nobody" in t]
        return Verdict(row[0] == "waiting" and not messages, f"handoff {row[0]}, {len(messages)} messages from nobody")

    p.run(C_CREDS, "the handoff behind the refused calls is unchanged", target_untouched)

    conversation = b.conversation_id("demo-vip")
    b.say(conversation, "hi", b.customer_token("demo-vip"))
    c = f"/conversations/{conversation}"
    rasa_routes = [
        ("GET", f"{c}/tracker", None),
        ("POST", f"{c}/tracker/events", [{"event": "slot", "name": "tier", "value": "vip"}]),
        ("PUT", f"{c}/tracker/events", []),
        ("POST", f"{c}/execute", {"name": "utter_greet"}),
        ("POST", f"{c}/trigger_intent", {"name": "greet"}),
        ("POST", f"{c}/messages", {"text": "hi", "sender": "user"}),
        ("POST", f"{c}/predict", None),
        ("GET", f"{c}/story", None),
        ("POST", "/model/parse", {"text": "hi"}),
        ("GET", "/status", None),
        ("GET", "/domain", None),
        ("PUT", "/model", {"model_file": "/etc/passwd"}),
        ("DELETE", "/model", None),
        ("POST", "/model/train", ""),
    ]
    rasa_variants: List[Tuple[str, str, Dict[str, str]]] = [
        ("no token", "", {}),
        ("a wrong token", "token=wrong", {}),
        ("an empty token", "token=", {}),
        ("half of the real token", f"token={quote(s.rasa_token[: len(s.rasa_token) // 2])}", {}),
        ("the real token plus a character", f"token={quote(s.rasa_token + 'x')}", {}),
        ("a customer's token", f"token={b.customer_token('demo-vip')}", {}),
        ("a wrong Bearer header", "", {"Authorization": f"Bearer {s.rasa_token}x"}),
    ]
    for method, path, body in rasa_routes:
        for name, query, headers in rasa_variants:

            def rasa_refused(
                method: str = method, path: str = path, body: Any = body, query: str = query, headers: dict = headers
            ) -> Verdict:
                full = path + (f"?{query}" if query else "")
                reply = call(b.rasa_port, method, full, body, headers)
                return verdict(reply.status in (401, 403), f"{reply.status}", reply)

            p.run(C_CREDS, f"Rasa {method} {path.replace(conversation, '<vip>')} with {name}", rasa_refused)

    def rasa_unchanged() -> Verdict:
        slots = b.slots(conversation)
        status = call(b.rasa_port, "GET", f"/status?token={s.rasa_token}").json()
        held = slots.get("tier") == "vip" and bool(status.get("model_file"))
        return Verdict(held, f"VIP tier {slots.get('tier')}, model {Path(status.get('model_file') or '-').name}")

    p.run(C_CREDS, "Rasa: tracker and model unchanged by refused calls", rasa_unchanged)


LEAK_MARKERS = ("root:", "SECRET", "import ", "def ", "[project]", "SQLite format", "[tool.", "module.exports")


def traversal_paths() -> List[str]:
    targets = [
        ("../app.py", 1),
        ("../../../pyproject.toml", 3),
        ("../../../.env.example", 3),
        ("../../../../../../../../etc/passwd", 8),
        ("../node_modules/function-bind/index.js", 1),  # a .js outside the static folder: the suffix is allowed
    ]
    separators = [
        "../",
        "..%2f",
        "..%2F",
        "%2e%2e%2f",
        "%2e%2e/",
        "..%5c",
        "..\\",
        "%252e%252e%252f",
        "..%c0%af",
        "....//",
        ".%2e%2f",
        "..%e2%88%95",
        "..%ef%bc%8f",
    ]
    paths = []
    for target, depth in targets:
        rest = target[3 * depth :]
        encoded_rest = rest.replace("/", "%2f")
        for separator in separators:
            paths.append("/static/" + separator * depth + (encoded_rest if "%" in separator else rest))
    paths += [
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/%2f%2fetc%2fpasswd",
        "/static/..",
        "/static/%2e%2e",
        "/static/.",
        "/static/site.js%00.js",
        "/static/..%00/app.py",
        "/static/webchat.js/../../app.py",
        "/static/webchat.js%2f..%2f..%2fapp.py",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f.env",
        "/static/.env",
        "/static/console.html%2f..%2f..%2fapp.py",
        "/static/site.js::$DATA",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/console/..%2f..%2fapp.py",
        "/demo/..%2f..%2fservice%2fwiring.py",
        "/static/..;/app.py",
    ]
    return paths


def probe_static_traversal(b: Bench, p: Probes) -> None:
    secrets = [b.settings.customer_token_secret, b.settings.agent_token_secret, b.settings.rasa_token]
    for path in traversal_paths():

        def leaked_nothing(path: str = path) -> Verdict:
            reply = b.esc("GET", path)
            found = [m for m in LEAK_MARKERS + tuple(secrets) if m in reply.text]
            held = 400 <= reply.status < 500 and not found
            return verdict(held, f"{reply.status}" + (f", body has {found}" if found else ", nothing leaked"), reply)

        p.run(C_TRAVERSAL, path, leaked_nothing)


def probe_huge_and_deep_json(b: Bench, p: Probes) -> None:
    deep_array = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    twenty = 20_000_000
    handoff = b.claimed("demo-standard")
    h = f"/api/handoffs/{handoff['id']}"
    endpoints: List[Tuple[str, int, str, Dict[str, str], Callable[[str], bytes]]] = [
        (
            "Rasa webhook",
            b.rasa_port,
            WEBHOOK,
            {},
            lambda big: json.dumps({"sender": "probe-big", "message": big}).encode(),
        ),
        (
            "sign-in",
            b.esc_port,
            "/api/sign-in",
            {},
            lambda big: json.dumps({"agent": "probe", "password": big}).encode(),
        ),
        ("demo token", b.esc_port, "/demo/token", {}, lambda big: json.dumps({"persona": big}).encode()),
        (
            "agent message",
            b.esc_port,
            f"{h}/messages",
            {"Authorization": f"Bearer {b.alice}"},
            lambda big: json.dumps({"text": big}).encode(),
        ),
        (
            "transfer",
            b.esc_port,
            f"{h}/transfer",
            {"Authorization": f"Bearer {b.alice}"},
            lambda big: json.dumps({"queue": big}).encode(),
        ),
    ]
    for name, port, path, headers, make_big in endpoints:
        bodies = [
            ("100k-deep array", deep_array),
            ("100k-deep object", deep_object),
            ("20 MB of broken JSON", b'{"a": "' + b"x" * twenty),
            ("20 MB string field", make_big("x" * twenty)),
        ]
        for kind, body in bodies:

            def refused(port: int = port, path: str = path, body: bytes = body, headers: dict = headers) -> Verdict:
                source = fresh_address()
                try:
                    json_headers = {"Content-Type": "application/json", **headers}
                    reply = call(port, "POST", path, body, json_headers, source=source)
                except (ConnectionResetError, BrokenPipeError):
                    # Refused on its Content-Length (REQUEST_MAX_SIZE): the server answered 413 and closed
                    # the connection while the probe was still sending the body.
                    up = call(port, "GET", "/health" if port == b.esc_port else "/", timeout=10).status == 200
                    return verdict(up, "refused before the body was read (connection closed while sending)")
                too_long_reply = reply.status == 200 and "too long" in reply.text
                up = call(port, "GET", "/health" if port == b.esc_port else "/", timeout=10).status == 200
                held = (400 <= reply.status < 500 or too_long_reply) and up
                return verdict(
                    held,
                    f"{reply.status} in {reply.seconds:.1f} s"
                    + (" (the too-long reply)" if too_long_reply else "")
                    + ("" if up else "; the server stopped answering"),
                    reply,
                )

            p.run(C_BIG, f"{name}: {kind}", refused)

    for kind, make in [
        (
            "20 MB list in metadata",
            lambda sender: (
                b'{"sender": "'
                + sender.encode()
                + b'", "message": "hi", "metadata": {"x": ['
                + b"1," * (twenty // 2)
                + b"1]}}"
            ),
        ),
        (
            "20 MB string in metadata",
            lambda sender: json.dumps({"sender": sender, "message": "hi", "metadata": {"x": "y" * twenty}}).encode(),
        ),
    ]:

        def metadata_not_stored(make: Callable[[str], bytes] = make) -> Verdict:
            sender = f"probe-meta-{uuid.uuid4().hex[:8]}"
            body = make(sender)
            try:
                reply = call(b.rasa_port, "POST", WEBHOOK, body, {"Content-Type": "application/json"})
            except (ConnectionResetError, BrokenPipeError):  # refused on its Content-Length, before reading
                stored = stored_bytes(b.settings.tracker_db_path, sender)
                return verdict(stored < 1_000_000, f"refused before the body was read; {stored / 1e6:.1f} MB stored")
            stored = stored_bytes(b.settings.tracker_db_path, sender)
            held = (400 <= reply.status < 500) or (reply.status == 200 and stored < 1_000_000)
            return verdict(
                held,
                f"{reply.status}; {stored / 1e6:.1f} MB stored in the tracker store "
                f"for a {len(body) / 1e6:.0f} MB request",
                reply,
            )

        p.run(C_BIG, f"Rasa webhook: {kind}", metadata_not_stored)


MALFORMED_BODIES: List[Tuple[str, bytes, bool]] = [
    # (name, body, is syntactically invalid JSON)
    ("empty body", b"", False),
    ("null", b"null", False),
    ("an array", b"[]", False),
    ("a number", b"42", False),
    ("a string", b'"text"', False),
    ("truncated object", b'{"a": ', True),
    ("not JSON", b"not json at all", True),
    ("invalid UTF-8", b'{"a": "caf\xe9 \xff\xfe"}', True),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"a": 1}', True),
    ("NaN", b'{"a": NaN}', False),
    ("1e999", b'{"a": 1e999}', False),
    ("huge integer", b'{"a": ' + b"9" * 5000 + b"}", False),
    ("NUL bytes", b"\x00" * 32, True),
    ("lone surrogates", b'{"\\ud800": "\\udfff", "text": "\\ud800", "sender": "\\udfff"}', False),
    (
        "wrong types everywhere",
        b'{"sender": ["x"], "message": {"a": 1}, "text": 7, "queue": [], "agent": {}, '
        b'"password": 1, "persona": [], "metadata": "x"}',
        False,
    ),
]


def probe_malformed_bodies(b: Bench, p: Probes) -> None:
    handoff = b.claimed("demo-standard")
    h = f"/api/handoffs/{handoff['id']}"
    auth = {"Authorization": f"Bearer {b.alice}"}
    endpoints = [
        ("Rasa webhook", b.rasa_port, WEBHOOK, {}),
        ("sign-in", b.esc_port, "/api/sign-in", {}),
        ("demo token", b.esc_port, "/demo/token", {}),
        ("agent message", b.esc_port, f"{h}/messages", auth),
        ("transfer", b.esc_port, f"{h}/transfer", auth),
    ]
    for name, port, path, headers in endpoints:
        for kind, body, invalid in MALFORMED_BODIES:

            def clean_4xx(
                port: int = port,
                path: str = path,
                headers: dict = headers,
                body: bytes = body,
                invalid: bool = invalid,
                name: str = name,
            ) -> Verdict:
                reply = call(
                    port, "POST", path, body, {"Content-Type": "application/json", **headers}, source=fresh_address()
                )
                no_trace = "Traceback" not in reply.text
                if invalid:
                    held = reply.status == 400
                elif name == "demo token":
                    held = reply.status < 500  # no persona is an anonymous visitor's (200 with a null token)
                else:
                    held = 400 <= reply.status < 500
                return verdict(held and no_trace, f"{reply.status}", reply)

            p.run(C_MALFORMED, f"{name}: {kind}", clean_4xx)
    for kind, persona in [
        ("a list", []),
        ("an object", {}),
        ("a number", 7),
        ("true", True),
        ("a long string", "x" * 5000),
    ]:

        def persona_refused(persona: Any = persona) -> Verdict:
            reply = b.esc("POST", "/demo/token", {"persona": persona})
            return verdict(reply.status == 400, f"{reply.status} (expected 400)", reply)

        p.run(C_MALFORMED, f"demo token: persona is {kind}", persona_refused)
    still = b.open_handoff(handoff["conversation_id"])

    def handoff_still_assigned() -> Verdict:
        return Verdict(
            bool(still) and still["status"] == "assigned" and still["agent_id"] == "alice",
            f"the handoff is {still and still['status']} ({still and still['agent_id']})",
        )

    p.run(C_MALFORMED, "the agent's handoff unchanged by malformed calls", handoff_still_assigned)


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(document.cookie)</script>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    '<a href="javascript:alert(1)">click</a>',
    "<body onload=alert(1)>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<details open ontoggle=alert(1)>",
    "'-alert(1)-'",
    "{{constructor.constructor('alert(1)')()}}",
    "[click](javascript:alert(1))",
]


def unescaped_in_html(reply: Reply, payload: str) -> bool:
    return reply.headers.get("content-type", "").startswith("text/html") and payload in reply.text


def new_markup(reply: Reply, payload: str, baseline: str) -> bool:
    """Whether an HTML answer holds more of the payload's tags (`<script`, `<img`...) than the same page for a
    harmless request: markup the request put there."""
    if not reply.headers.get("content-type", "").startswith("text/html"):
        return False
    body = reply.text.lower()
    tags = {tag.lower() for tag in re.findall(r"<(/?[a-zA-Z]+)", payload)}
    echoed = "<" in payload and payload in reply.text  # text without tags is only text in an HTML page
    return echoed or any(body.count("<" + tag) > baseline.count("<" + tag) for tag in tags)


def probe_xss_and_csp(b: Bench, p: Probes) -> None:
    pages = {"/": "website", "/console": "console", "/trainer": "trainers' page"}
    for path, name in pages.items():
        reply = b.esc("GET", path + "?q=%3Cscript%3Ealert(1)%3C/script%3E")
        csp = reply.headers.get("content-security-policy", "")
        directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
        script = directives.get("script-src", "")
        checks = {
            "has a CSP": bool(csp),
            "script-src 'self' only": script == "script-src 'self'",
            "default-src 'self'": directives.get("default-src") == "default-src 'self'",
            "frame-ancestors 'none'": directives.get("frame-ancestors") == "frame-ancestors 'none'",
            "base-uri 'none'": directives.get("base-uri") == "base-uri 'none'",
            "X-Content-Type-Options nosniff": reply.headers.get("x-content-type-options") == "nosniff",
            "no inline <script> in the page": not re.search(rb"<script(?![^>]*\ssrc=)[^>]*>", reply.body),
            "the query is not echoed": b"alert(1)" not in reply.body,
        }
        for check, ok in checks.items():
            p.run(
                C_XSS, f"{name}: {check}", lambda ok=ok, csp=csp, reply=reply: verdict(ok, f"CSP: {csp[:110]}", reply)
            )

    handoff = b.claimed("demo-standard")
    conversation, token = handoff["conversation_id"], handoff["token"]
    rasa_baseline = call(b.rasa_port, "GET", "/nowhere/benign", headers={"Accept": "text/html"}).text.lower()
    for n, payload in enumerate(XSS_PAYLOADS):

        def customer_text_is_text(payload: str = payload) -> Verdict:
            sent = b.say(conversation, payload, token)
            detail = b.esc("GET", f"/api/handoffs/{handoff['id']}", token=b.alice)
            is_json = detail.headers.get("content-type", "").startswith("application/json")
            texts = [m["text"] for m in detail.json()["transcript"]] if is_json else []
            held = sent.status == 200 and is_json and payload in texts and not unescaped_in_html(detail, payload)
            return verdict(
                held, f"stored verbatim as JSON text: {payload in texts}, {detail.headers.get('content-type')}", detail
            )

        def agent_text_is_text(payload: str = payload) -> Verdict:
            sent = b.esc("POST", f"/api/handoffs/{handoff['id']}/messages", {"text": payload}, token=b.alice)
            held = sent.status == 201 and sent.headers.get("content-type", "").startswith("application/json")
            return verdict(held, f"{sent.status} {sent.headers.get('content-type')}", sent)

        def reflected_only_in_json(payload: str = payload) -> Verdict:
            replies = [
                b.esc("GET", f"/static/{quote(payload, safe='')}.js", headers={"Accept": "text/html"}),
                b.esc("POST", "/demo/token", {"persona": payload}, headers={"Accept": "text/html"}),
                b.esc(
                    "GET", f"/api/handoffs/{quote(payload, safe='')}", token=b.alice, headers={"Accept": "text/html"}
                ),
                b.esc("GET", f"/nowhere/{quote(payload, safe='')}", headers={"Accept": "text/html"}),
            ]
            bad = [
                r
                for r in replies
                if not r.headers.get("content-type", "").startswith("application/json")
                or r.headers.get("x-content-type-options") != "nosniff"
                or r.status >= 500
            ]
            return verdict(
                not bad,
                f"{[r.status for r in replies]} all JSON with nosniff" if not bad else f"{len(bad)} not JSON+nosniff",
                *(bad or replies[:1]),
            )

        def rasa_error_page_escapes(payload: str = payload) -> Verdict:
            replies = [
                call(b.rasa_port, "GET", f"/nowhere/{quote(payload, safe='')}", headers={"Accept": "text/html"}),
                call(
                    b.rasa_port,
                    "GET",
                    "/nowhere/" + quote(payload, safe="<>\"'=()/:;{}[]"),
                    headers={"Accept": "text/html"},
                ),
                call(
                    b.rasa_port,
                    "GET",
                    WEBHOOK + "?x=" + quote(payload, safe="<>\"'=()/:;{}[]"),
                    headers={"Accept": "text/html"},
                ),
            ]
            bad = [r for r in replies if new_markup(r, payload, rasa_baseline)]
            return verdict(
                not bad,
                f"{[r.status for r in replies]} {replies[0].headers.get('content-type')}: "
                + ("payload echoed as markup" if bad else "payload escaped or absent"),
                *(bad or replies[1:2]),
            )

        short = payload[:28]
        p.run(C_XSS, f"customer message {n} stored as text ({short})", customer_text_is_text)
        p.run(C_XSS, f"agent message {n} answered as JSON ({short})", agent_text_is_text)
        p.run(C_XSS, f"service errors reflect {n} only in JSON ({short})", reflected_only_in_json)
        p.run(C_XSS, f"Rasa error page escapes {n} ({short})", rasa_error_page_escapes)


def probe_racing_claims(b: Bench, p: Probes, rounds: int = 5, racers: int = 20) -> None:
    for n in range(rounds):
        handoff = b.escalate("demo-standard")

        def one_winner(handoff: dict = handoff) -> Verdict:
            tokens = [(("alice", b.alice), ("bob", b.bob))[i % 2] for i in range(racers)]
            barrier = threading.Barrier(racers)

            def claim(agent: Tuple[str, str]) -> Tuple[str, Reply]:
                barrier.wait()
                return agent[0], b.esc("POST", f"/api/handoffs/{handoff['id']}/claim", token=agent[1])

            with ThreadPoolExecutor(max_workers=racers) as pool:
                outcomes = list(pool.map(claim, tokens))
            winners = [name for name, r in outcomes if r.status == 200]
            statuses = sorted(r.status for _, r in outcomes)
            final = b.handoff_rows()[handoff["id"]]
            held = len(winners) == 1 and set(statuses) <= {200, 409} and final[1] == winners[0]
            return Verdict(
                held,
                f"{len(winners)} winner(s) {winners}; statuses {counted(statuses)}; stored agent {final[1]}",
            )

        p.run(C_CLAIMS, f"round {n + 1}: {racers} racing claims (alice and bob)", one_winner)


# --- the findings of the first run -----------------------------------------------------------------

WEBHOOK_SPELLINGS = [
    "/webhooks/rest/webhook/",
    "/webhooks/rest/webhook//",
    "/webhooks/rest/webhook///",
    "/webhooks/rest/webhook/?a=b",
    "/webhooks/rest/webhook?a=b",
    "/webhooks/rest/webhook//?a=b",
    "/webhooks/rest/webhook?sender=x",
    "/webhooks/rest/webhook/?",
    "//webhooks/rest/webhook",
    "/webhooks//rest/webhook",
    "/webhooks/rest//webhook",
    "/webhooks/rest/./webhook",
    "/webhooks/rest/webhook/.",
    "/webhooks/rest/webhook/..",
    "/webhooks/rest/webhook%2f",
    "/webhooks/rest/webhook%2F%2F",
    "/WEBHOOKS/rest/webhook",
    "/webhooks/rest/webhook;x",
    "/webhooks/rest/webhook#frag",
    "/webhooks/rest/webhook/%20",
]


def probe_webhook_spellings(b: Bench, p: Probes) -> None:
    vip = b.conversation_id("demo-vip")
    b.say(vip, "hi", b.customer_token("demo-vip"))
    credentials = [
        ("no token", None),
        ("demo-free's token", b.customer_token("demo-free")),
        ("a VIP token with a guessed secret", b.customer_token("demo-vip", secret="attacker-guess-" * 3)),
        (
            "an expired VIP token",
            mint("demo-vip", b.settings.customer_token_secret, b.settings.customer_token_issuer, -60),
        ),
    ]
    for path in WEBHOOK_SPELLINGS:
        for name, token in credentials:

            def refused(path: str = path, token: Optional[str] = token) -> Verdict:
                marker = f"send the refund to my new IBAN NL00 FAKE {uuid.uuid4().hex[:8]}"
                reply = b.say(vip, marker, token, path=path)
                landed = marker in b.user_texts(vip)
                held = reply.status in (403, 404) and not landed
                return verdict(
                    held, f"{reply.status}, {'LANDED in' if landed else 'nothing in'} the VIP's tracker", reply
                )

            p.run(F1, f"POST {path} with {name}", refused)

    def control_lands() -> Verdict:
        marker = f"control message {uuid.uuid4().hex[:8]}"
        reply = b.say(vip, marker, b.customer_token("demo-vip"), path="/webhooks/rest/webhook/")
        landed = marker in b.user_texts(vip)
        return verdict(reply.status == 200 and landed, f"{reply.status}, landed {landed}", reply)

    p.run(F1, "control: the VIP's own token on /webhook/ is accepted and seen by the check", control_lands)


def probe_action_server(b: Bench, p: Probes) -> None:
    s = b.settings
    token = s.action_server_token
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    forged = forged_action_call(sender)
    headers = [
        ("no Authorization", {}),
        ("Bearer wrong", {"Authorization": "Bearer wrong"}),
        ("the token without 'Bearer'", {"Authorization": token}),
        ("the token in X-Token", {"X-Token": token}),
        ("the token plus a character", {"Authorization": f"Bearer {token}x"}),
        ("half of the token", {"Authorization": f"Bearer {token[: len(token) // 2]}"}),
        ("Basic with the token", {"Authorization": "Basic " + base64.b64encode(f"rasa:{token}".encode()).decode()}),
        ("Rasa's HTTP API token", {"Authorization": f"Bearer {s.rasa_token}"}),
        ("the token in the query", {}),
    ]
    paths = [
        ("POST", "/webhook"),
        ("POST", "/webhook/"),
        ("POST", "//webhook"),
        ("POST", "/webhook?x=1"),
        ("POST", "/health/../webhook"),
        ("POST", "/health/%2e%2e/webhook"),
        ("GET", "/actions"),
        ("GET", "/actions/"),
        ("GET", "//actions"),
    ]
    for method, path in paths:
        for name, header in headers:
            full = path + (
                ("&" if "?" in path else "?") + f"token={quote(token)}" if name == "the token in the query" else ""
            )

            def unauthorised(method: str = method, full: str = full, header: dict = header) -> Verdict:
                reply = call(b.action_port, method, full, forged if method == "POST" else None, header)
                return verdict(reply.status == 401, f"{reply.status}", reply)

            p.run(F2, f"{method} {path} with {name}", unauthorised)

    def no_forged_handoff() -> Verdict:
        count = b.handoffs_of(sender)
        return Verdict(count == 0, f"{count} handoff(s) stored for the forged sender {sender}")

    p.run(F2, "no handoff queued by the forged calls", no_forged_handoff)

    def only_localhost() -> Verdict:
        found = listening_addresses(b.action_port)
        return Verdict(found == {"127.0.0.1"}, f"listening on {sorted(found)}")

    p.run(F2, "listens only on 127.0.0.1 (/proc/net/tcp*)", only_localhost)

    def other_loopback_refused() -> Verdict:
        try:
            socket.create_connection(("127.0.0.2", b.action_port), timeout=3).close()
        except OSError as error:
            return Verdict(True, f"127.0.0.2:{b.action_port} refused ({error.strerror or error})")
        return Verdict(False, f"127.0.0.2:{b.action_port} accepted a connection")

    p.run(F2, "not reachable on another address (127.0.0.2)", other_loopback_refused)

    def health_open() -> Verdict:
        reply = call(b.action_port, "GET", "/health")
        return verdict(reply.status == 200, f"/health without the token: {reply.status}", reply)

    p.run(F2, "/health answers health checks without the token", health_open)

    def rasa_token_works() -> Verdict:
        reply = call(b.action_port, "GET", "/actions", headers={"Authorization": f"Bearer {token}"})
        return verdict(reply.status == 200, f"/actions with the token: {reply.status}", reply)

    p.run(F2, "Rasa's token still works (control)", rasa_token_works)


def probe_cursor_bounds(b: Bench, p: Probes) -> None:
    handoff = b.claimed("demo-standard")
    b.say(handoff["conversation_id"], "are you there?", handoff["token"])
    h = f"/api/handoffs/{handoff['id']}/messages"
    cases = [
        ("after=9223372036854775808", 400),
        ("after=9223372036854775807", 200),
        ("after=99999999999999999999999", 400),
        ("after=-1", 400),
        ("after=-9223372036854775809", 400),
        ("after=1e3", 400),
        ("after=abc", 400),
        ("after=0x10", 400),
        ("after=", 200),  # a blank parameter is dropped by Sanic: no cursor, i.e. after=0
        ("after=0&wait=nan", 400),
        ("after=0&wait=-inf", 400),
        ("after=0&wait=abc", 400),
        ("after=0&wait=1e309", 200),  # clamped to 25 s; messages after 0 exist, so it answers at once
        ("after=0&wait=-5", 200),
        ("after=0", 200),
        ("after=" + "9" * 5000, 400),
        ("after=%00", 400),
        ("after=1&after=2", 200),
    ]
    for query, expected in cases:

        def bounded(query: str = query, expected: int = expected) -> Verdict:
            reply = b.esc("GET", f"{h}?{query}", token=b.alice, timeout=40)
            return verdict(reply.status == expected, f"{reply.status} (expected {expected})", reply)

        p.run(F5, f"GET messages?{_short(query, 50)}", bounded)
    for query in ("status=<script>", "status=", "status=waiting&status=assigned", "status=" + "x" * 5000):

        def list_bounded(query: str = query) -> Verdict:
            reply = b.esc("GET", f"/api/handoffs?{query}", token=b.alice)
            return verdict(reply.status < 500, f"{reply.status}", reply)

        p.run(F5, f"GET /api/handoffs?{_short(query, 40)}", list_bounded)


def probe_sign_in(b: Bench, p: Probes) -> None:
    s = b.settings
    per_account, per_address = s.sign_in_failures_per_account, s.sign_in_failures_per_address

    def guessers(name: str, label: str) -> None:
        checked = {"wrong passwords": 0}  # guesses whose password was checked (401), across both probes

        def throttled() -> Verdict:
            sources = [fresh_address() for _ in range(10)]
            with ThreadPoolExecutor(max_workers=10) as pool:
                replies = list(pool.map(lambda src: b.sign_in(name, f"guess-{src}", src), sources))
            statuses = [r.status for r in replies]
            checked["wrong passwords"] = statuses.count(401)
            limited = [r for r in replies if r.status == 429]
            retry = [int(r.headers.get("retry-after", "0")) for r in limited]
            held = (
                statuses.count(401) <= per_account
                and statuses.count(401) + len(limited) == 10
                and len(limited) >= 10 - per_account
                and all(x > 0 for x in retry)
            )
            return verdict(
                held,
                f"10 parallel guessers from 10 addresses: {statuses.count(401)} x 401, {len(limited)} x 429 "
                f"(limit {per_account}), Retry-After {sorted(set(retry))}",
                *(replies[:1] + limited[:1]),
            )

        p.run(F6, f"{label}: 10 parallel guessers hit 429 after {per_account} failures", throttled)

        def still_limited() -> Verdict:
            # Parallel guessers may be refused before the limit is used up (an attempt counts from its
            # start); what must hold is that no more than the limit of passwords is ever checked.
            replies = []
            for _ in range(per_account + 1):
                replies.append(b.sign_in(name, "one more guess", fresh_address()))
                if replies[-1].status == 429:
                    break
            retry = replies[-1].headers.get("retry-after", "")
            total = checked["wrong passwords"] + sum(r.status == 401 for r in replies)
            return verdict(
                replies[-1].status == 429 and retry.isdigit() and int(retry) > 0 and total <= per_account,
                f"later guesses from new addresses: {[r.status for r in replies]}, Retry-After {retry}; "
                f"{total} wrong passwords checked in all (limit {per_account})",
                replies[-1],
            )

        p.run(F6, f"{label}: later guesses from new addresses are 429 once the limit is used", still_limited)

    guessers("bob", "existing name 'bob'")

    def right_password_locked() -> Verdict:
        reply = b.sign_in("bob", s.demo_agent_password, fresh_address())
        return verdict(reply.status == 429, f"bob's real password during the lock-out: {reply.status}", reply)

    p.run(F6, "existing name 'bob': the right password is 429 during the lock-out", right_password_locked)
    guessers(f"mallory-{uuid.uuid4().hex[:6]}", "unknown name")

    address = fresh_address()

    def address_limited() -> Verdict:
        names = [f"guess-{uuid.uuid4().hex[:6]}" for _ in range(per_address + 10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            replies = list(pool.map(lambda n: b.sign_in(n, "wrong password", address), names))
        statuses = [r.status for r in replies]
        limited = [r for r in replies if r.status == 429]
        held = (
            statuses.count(401) <= per_address
            and statuses.count(401) + len(limited) == len(names)
            and len(limited) >= len(names) - per_address
            and all(int(r.headers.get("retry-after", "0")) > 0 for r in limited)
        )
        return verdict(
            held,
            f"{len(names)} guesses at different names from one address (10 at a time): "
            f"{statuses.count(401)} x 401, {len(limited)} x 429 (limit {per_address})",
            *limited[:1],
        )

    p.run(F6, f"one address, 10 parallel guessers: 429 after {per_address} failures", address_limited)

    def address_locked_for_alice() -> Verdict:
        reply = b.sign_in("alice", s.demo_agent_password, address)
        return verdict(reply.status == 429, f"alice's real password from the locked address: {reply.status}", reply)

    p.run(F6, "the locked address cannot sign in even with a right password", address_locked_for_alice)

    def forwarded_for_ignored() -> Verdict:
        reply = b.esc(
            "POST",
            "/api/sign-in",
            {"agent": "someone", "password": "x"},
            source=address,
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        return verdict(reply.status == 429, f"with X-Forwarded-For: {reply.status} (TRUSTED_PROXIES=0)", reply)

    p.run(F6, "X-Forwarded-For does not escape the per-address count", forwarded_for_ignored)

    def other_address_signs_in() -> Verdict:
        reply = b.sign_in("alice", s.demo_agent_password, fresh_address())
        return verdict(reply.status == 200, f"alice from another address: {reply.status}", reply)

    p.run(F6, "another address still signs in (control)", other_address_signs_in)

    # Timing: wrong passwords for existing and unknown names, interleaved, each from its own address.
    existing = [f"probe-agent-{n}" for n in range(PROBE_ACCOUNTS)]
    samples: Dict[str, List[float]] = {"existing": [], "unknown": []}
    for n in range(TIMING_SAMPLES):
        for kind in ("existing", "unknown") if n % 2 == 0 else ("unknown", "existing"):
            name = existing[n % PROBE_ACCOUNTS] if kind == "existing" else f"nobody-{uuid.uuid4().hex[:8]}"
            reply = b.sign_in(name, f"wrong password {n}", fresh_address())
            if reply.status == 401:
                samples[kind].append(reply.seconds)
    for kind, values in samples.items():
        for value in values:
            p.time(f"sign-in, wrong password, {kind} name", value)

    def same_timing() -> Verdict:
        if len(samples["existing"]) < TIMING_SAMPLES // 2 or len(samples["unknown"]) < TIMING_SAMPLES // 2:
            return Verdict(
                False, f"too few 401 samples: {len(samples['existing'])} existing, {len(samples['unknown'])} unknown"
            )
        known, unknown = statistics.median(samples["existing"]), statistics.median(samples["unknown"])
        allowed = max(SAME_TIMING_MS / 1000, SAME_TIMING_SHARE * min(known, unknown))
        return Verdict(
            abs(known - unknown) <= allowed,
            f"median {known * 1000:.0f} ms (existing, n={len(samples['existing'])}) vs {unknown * 1000:.0f} ms "
            f"(unknown, n={len(samples['unknown'])}): difference {abs(known - unknown) * 1000:.0f} ms, "
            f"allowed {allowed * 1000:.0f} ms",
        )

    p.run(F6, "wrong password: existing and unknown names take the same time", same_timing)

    source = fresh_address()
    first = b.sign_in("alice", s.demo_agent_password, source).json()["token"]
    second = b.sign_in("alice", s.demo_agent_password, source).json()["token"]
    b.signed_out = first

    def sign_out_revokes() -> Verdict:
        before = b.esc("GET", "/api/me", token=first)
        out = b.esc("POST", "/api/sign-out", token=first)
        after = [b.esc("GET", path, token=first) for path in ("/api/me", "/api/handoffs", "/api/queues")]
        again = b.esc("POST", "/api/sign-out", token=first)
        held = (
            before.status == 200 and out.status == 204 and all(r.status == 401 for r in after) and again.status == 401
        )
        return verdict(
            held,
            f"me {before.status}, sign-out {out.status}, then {[r.status for r in after]}, "
            f"sign-out again {again.status}",
            out,
            *after,
        )

    p.run(F6, "POST /api/sign-out revokes the token", sign_out_revokes)

    def other_token_lives() -> Verdict:
        reply = b.esc("GET", "/api/me", token=second)
        return verdict(reply.status == 200, f"alice's other sign-in: {reply.status}", reply)

    p.run(F6, "sign-out ends only that sign-in", other_token_lives)


def probe_demo_accounts(b: Bench, p: Probes) -> None:
    s = b.settings

    def on_in_main() -> Verdict:
        replies = [b.sign_in(name, s.demo_agent_password, fresh_address()) for name in ("alice", "tara")]
        return verdict(
            all(r.status == 200 for r in replies), f"DEMO_ACCOUNTS=true: {[r.status for r in replies]}", *replies
        )

    p.run(F7, "DEMO_ACCOUNTS=true: alice and tara sign in (control)", on_in_main)

    with extra_service(b.tmp / "demo-off", DEMO_ACCOUNTS="false", DEMO_PAGE_ENABLED="false") as (off, _):
        for name in ("alice", "bob", "tara"):

            def cannot_sign_in(name: str = name) -> Verdict:
                reply = b.sign_in(name, off.demo_agent_password, fresh_address(), port=off.escalation_port)
                return verdict(reply.status == 401, f"fresh database, DEMO_ACCOUNTS=false: {reply.status}", reply)

            p.run(F7, f"fresh start with DEMO_ACCOUNTS=false: {name} cannot sign in", cannot_sign_in)

        def demo_page_off() -> Verdict:
            token = b.esc("POST", "/demo/token", {"persona": "demo-vip"}, port=off.escalation_port)
            config = b.esc("GET", "/demo/config", port=off.escalation_port)
            held = token.status == 404 and config.status == 200 and config.json().get("personas") == {}
            return verdict(held, f"/demo/token {token.status}, personas {config.json().get('personas')}", token)

        p.run(F7, "DEMO_PAGE_ENABLED=false: no demo tokens", demo_page_off)

    shared = b.tmp / "demo-switch"
    with extra_service(shared, DEMO_ACCOUNTS="true") as (on, _):
        keep = {
            "AGENT_TOKEN_SECRET": on.agent_token_secret,
            "DEMO_AGENT_PASSWORD": on.demo_agent_password,
            "CUSTOMER_DB_URL": on.customer_db_url,
        }
        signed_in = b.sign_in("alice", on.demo_agent_password, fresh_address(), port=on.escalation_port)
        old_token = signed_in.json().get("token") if signed_in.status == 200 else None
    with extra_service(shared / "second", DEMO_ACCOUNTS="false", **keep) as (off, _):
        for name in ("alice", "bob", "tara"):

            def retired(name: str = name) -> Verdict:
                reply = b.sign_in(name, off.demo_agent_password, fresh_address(), port=off.escalation_port)
                return verdict(reply.status == 401, f"after a restart with DEMO_ACCOUNTS=false: {reply.status}", reply)

            p.run(F7, f"switched off after use: {name} cannot sign in", retired)

        def old_token_dead() -> Verdict:
            if old_token is None:
                return verdict(False, "alice could not sign in while the demo accounts were on", signed_in)
            reply = b.esc("GET", "/api/me", token=old_token, port=off.escalation_port)
            return verdict(reply.status == 401, f"alice's token from before the switch: {reply.status}", reply)

        p.run(F7, "switched off after use: alice's earlier token stops working", old_token_dead)


PAYLOADS = [
    "/faq",
    "/faq{}",
    "/faq/delivery_times",
    "/faq{bad json",
    "/greet",
    '/rate_csat{"csat_score": 3}',
    "/nlu_fallback",
    "/out_of_scope",
    "/made_up_intent",
    "/",
]


def probe_payloads_and_resolve(b: Bench, p: Probes) -> None:
    for customer in (None, "demo-free"):
        for text in PAYLOADS:

            def answered(text: str = text, customer: Optional[str] = customer) -> Verdict:
                start = b.log_size(b.system.rasa)
                conversation = b.conversation_id(customer) if customer else f"probe-payload-{uuid.uuid4().hex[:8]}"
                reply = b.say(conversation, text, b.customer_token(customer) if customer else None)
                texts = [m.get("text") for m in reply.json()] if reply.status == 200 else []
                log = b.log_since(b.system.rasa, start)
                errors = ERROR_LINE.findall(log) + re.findall(r"KeyError|Traceback", log)
                held = reply.status == 200 and any(texts) and not errors
                return verdict(
                    held,
                    f"{reply.status}, {len(texts)} answer(s) {_short(texts[:1], 60)}"
                    + (f"; Rasa log: {len(errors)} error line(s)" if errors else ""),
                    reply,
                )

            p.run(F8, f"{'anonymous' if customer is None else customer} types {text!r}", answered)

    def widget_faq() -> Verdict:
        from tools.widget_client import WidgetClient

        widget = WidgetClient(b.settings.rasa_url, b.customer_token("demo-vip"))
        try:
            session = widget.request_session()
            widget.say(session, "/faq")
            answer = widget.reply()
        finally:
            widget.close()
        return Verdict(bool(answer.get("text")), f"widget answer: {_short(answer.get('text'), 70)}")

    p.run(F8, "demo-vip types '/faq' in the widget", widget_faq)

    for n in range(3):
        handoff = b.claimed("demo-standard")

        def clean_resolve(handoff: dict = handoff) -> Verdict:
            start = b.log_size(b.system.rasa)
            reply = b.esc("POST", f"/api/handoffs/{handoff['id']}/resolve", token=b.alice)
            time.sleep(0.5)
            asked = any("How did our team do" in t for t in b.bot_texts(handoff["conversation_id"]))
            rated = b.say(handoff["conversation_id"], '/rate_csat{"csat_score": 4}', handoff["token"])
            time.sleep(0.3)
            log = b.log_since(b.system.rasa, start)
            errors = [line for line in log.splitlines() if ERROR_LINE.match(line) or "Traceback" in line]
            csat = b.handoff_rows()[handoff["id"]][2]
            held = reply.status == 200 and asked and rated.status == 200 and csat == 4 and not errors
            return verdict(
                held,
                f"resolve {reply.status}, CSAT asked {asked}, rating stored {csat}, "
                f"{len(errors)} ERROR line(s) in the Rasa log" + (f": {errors[0][:160]}" if errors else ""),
                reply,
            )

        p.run(F8, f"resolve {n + 1}: no ERROR in the Rasa log, CSAT asked and stored", clean_resolve)


def probe_resolve_races(b: Bench, p: Probes, handoffs: int = 6) -> None:
    for n in range(handoffs):
        handoff = b.claimed("demo-standard")
        h = f"/api/handoffs/{handoff['id']}"
        storm = [
            ("resolve", "POST", f"{h}/resolve", None, b.alice),
            ("transfer", "POST", f"{h}/transfer", {"queue": "retention"}, b.alice),
            ("send", "POST", f"{h}/messages", {"text": "one moment please"}, b.alice),
            ("send", "POST", f"{h}/messages", {"text": "still checking"}, b.alice),
            ("resolve", "POST", f"{h}/resolve", None, b.alice),
            ("transfer", "POST", f"{h}/transfer", {"queue": "sales"}, b.alice),
            ("claim", "POST", f"{h}/claim", None, b.bob),
            ("send", "POST", f"{h}/messages", {"text": "bob here"}, b.bob),
        ]
        if n % 2:
            storm.reverse()
        barrier = threading.Barrier(len(storm))

        def fire(item: Tuple[str, str, str, Any, str], barrier: threading.Barrier = barrier) -> Tuple[str, Reply]:
            barrier.wait()
            return item[0], b.esc(item[1], item[2], item[3], token=item[4])

        with ThreadPoolExecutor(max_workers=len(storm)) as pool:
            outcomes = list(pool.map(fire, storm))
        final = b.handoff_rows()[handoff["id"]]
        summary = ", ".join(f"{kind} {r.status}" for kind, r in outcomes)

        def no_5xx(outcomes: list = outcomes, summary: str = summary) -> Verdict:
            bad = [r for _, r in outcomes if r.status >= 500]
            return verdict(not bad, summary, *bad)

        def consistent(outcomes: list = outcomes, final: tuple = final, handoff: dict = handoff) -> Verdict:
            resolved = [r for kind, r in outcomes if kind == "resolve" and r.status == 200]
            transferred = [r for kind, r in outcomes if kind == "transfer" and r.status == 200]
            asked = any("How did our team do" in t for t in b.bot_texts(handoff["conversation_id"]))
            if resolved:
                held = len(resolved) == 1 and not transferred and final[0] == "resolved" and asked
            elif transferred:
                held = len(transferred) == 1 and final[0] in ("waiting", "assigned") and not asked
            else:
                held = False
            return Verdict(
                held,
                f"{len(resolved)} resolve(s) and {len(transferred)} transfer(s) won; stored "
                f"{final[0]} ({final[1]}); CSAT asked {asked}",
            )

        p.run(F9, f"storm {n + 1}: no 5xx", no_5xx)
        p.run(F9, f"storm {n + 1}: one outcome, stored as answered", consistent)


def probe_rasa_down(b: Bench, p: Probes) -> None:
    """Rasa killed and held down by the supervisor: the service must go on answering."""
    assigned = [b.claimed("demo-standard") for _ in range(6)]
    waiting = b.escalate("demo-standard")
    cursor = b.esc("GET", f"/api/handoffs/{assigned[0]['id']}", token=b.alice).json()["cursor"]
    with b.system.supervisor.holding(launcher.RASA_SERVER):
        rasa = b.system.rasa
        rasa.process.kill()
        rasa.process.wait()
        with ThreadPoolExecutor(max_workers=12) as pool:
            resolves = [pool.submit(b.esc, "POST", f"/api/handoffs/{h['id']}/resolve", token=b.alice) for h in assigned]
            polls = [
                pool.submit(
                    b.esc, "GET", f"/api/handoffs/{assigned[0]['id']}/messages?after={cursor}&wait=2", token=b.alice
                )
                for _ in range(4)
            ]
            time.sleep(0.2)
            quick = {
                "/health": [b.esc("GET", "/health") for _ in range(5)],
                "GET /api/handoffs": [b.esc("GET", "/api/handoffs", token=b.alice) for _ in range(5)],
                "GET /api/handoffs?status=assigned": [
                    b.esc("GET", "/api/handoffs?status=assigned", token=b.alice) for _ in range(3)
                ],
                "GET /api/handoffs/{id}": [
                    b.esc("GET", f"/api/handoffs/{assigned[1]['id']}", token=b.alice) for _ in range(3)
                ],
                "long-poll wait=0": [
                    b.esc("GET", f"/api/handoffs/{assigned[0]['id']}/messages?after={cursor}", token=b.alice)
                    for _ in range(3)
                ],
            }
            resolved = [f.result() for f in resolves]
            polled = [f.result() for f in polls]
        rows = b.handoff_rows()  # before the transfer below moves one of them
        sent = b.esc(
            "POST", f"/api/handoffs/{assigned[1]['id']}/messages", {"text": "are you still there?"}, token=b.alice
        )
        claimed = b.esc("POST", f"/api/handoffs/{waiting['id']}/claim", token=b.alice)
        transferred = b.esc("POST", f"/api/handoffs/{assigned[2]['id']}/transfer", {"queue": "general"}, token=b.alice)
    for name, replies in quick.items():
        for r in replies:
            p.time(f"Rasa killed: {name}", r.seconds)

        def fast(replies: List[Reply] = replies) -> Verdict:
            slowest = max(r.seconds for r in replies)
            ok = all(r.status == 200 for r in replies) and slowest < FAST_SECONDS
            return verdict(
                ok,
                f"{[r.status for r in replies]}, slowest {slowest * 1000:.0f} ms (limit {FAST_SECONDS * 1000:.0f})",
                *replies[:1],
            )

        p.run(F3, f"Rasa killed: {name} answers fast", fast)
    for r in polled:
        p.time("Rasa killed: long-poll wait=2", r.seconds)

    def polls_on_time() -> Verdict:
        slowest = max(r.seconds for r in polled)
        ok = all(r.status == 200 for r in polled) and slowest < 2 + FAST_SECONDS
        return verdict(ok, f"{[r.status for r in polled]}, slowest {slowest:.2f} s for wait=2", *polled[:1])

    p.run(F3, "Rasa killed: long-polls (wait=2) end on time", polls_on_time)
    for r in resolved:
        p.time("Rasa killed: resolve (502)", r.seconds)

    def resolves_502() -> Verdict:
        slowest = max(r.seconds for r in resolved)
        kept = [rows[h["id"]][:2] == ("assigned", "alice") for h in assigned]
        ok = all(r.status == 502 for r in resolved) and slowest < FAST_SECONDS and all(kept)
        return verdict(
            ok,
            f"{[r.status for r in resolved]}, slowest {slowest * 1000:.0f} ms; "
            f"{sum(kept)}/{len(kept)} still assigned to alice",
            *resolved[:1],
        )

    p.run(F3, "Rasa killed: 6 parallel resolves get 502 fast, the agent keeps them", resolves_502)
    p.time("Rasa killed: send (502)", sent.seconds)
    p.run(
        F3,
        "Rasa killed: an agent's message gets 502 fast",
        lambda: verdict(
            sent.status == 502 and sent.seconds < FAST_SECONDS, f"{sent.status} in {sent.seconds * 1000:.0f} ms", sent
        ),
    )
    p.time("Rasa killed: claim", claimed.seconds)
    p.run(
        F3,
        "Rasa killed: claiming still works (greeting skipped)",
        lambda: verdict(
            claimed.status == 200 and claimed.seconds < FAST_SECONDS,
            f"{claimed.status} in {claimed.seconds * 1000:.0f} ms",
            claimed,
        ),
    )
    p.run(
        F3,
        "Rasa killed: transfer still works",
        lambda: verdict(
            transferred.status == 200, f"{transferred.status} in {transferred.seconds * 1000:.0f} ms", transferred
        ),
    )

    started = time.monotonic()
    wait_for(lambda: b.system.rasa is not rasa, 60)
    b.system.wait_until_up()
    p.time("Rasa restarted after the hold (s)", time.monotonic() - started)

    def resolve_after_return() -> Verdict:
        reply = b.esc("POST", f"/api/handoffs/{assigned[3]['id']}/resolve", token=b.alice)
        return verdict(reply.status == 200, f"resolve once Rasa is back: {reply.status}", reply)

    p.run(F3, "Rasa back: the same resolve succeeds", resolve_after_return)

    # A Rasa that accepts connections and never answers, behind a second instance of the service.
    stuck = StuckServer()
    try:
        with extra_service(b.tmp / "stuck", RASA_PORT=str(stuck.port)) as (settings, _):
            ids = claimed_handoffs(settings.customer_db_url, settings.demo_agent_password, 12, "stuck")
            queue = HandoffQueue(Database.from_url(settings.customer_db_url))
            token = agent_token("alice", settings.agent_token_secret)
            port = settings.escalation_port
            with ThreadPoolExecutor(max_workers=12) as pool:
                futures = [
                    pool.submit(b.esc, "POST", f"/api/handoffs/{i}/resolve", token=token, port=port) for i in ids
                ]
                time.sleep(0.5)
                during = {
                    "/health": [b.esc("GET", "/health", port=port) for _ in range(5)],
                    "GET /api/handoffs?status=assigned": [
                        b.esc("GET", "/api/handoffs?status=assigned", token=token, port=port) for _ in range(3)
                    ],
                    "long-poll wait=0": [
                        b.esc("GET", f"/api/handoffs/{ids[0]}/messages?after=0", token=token, port=port)
                        for _ in range(3)
                    ],
                    "sign-in": [b.sign_in("alice", settings.demo_agent_password, fresh_address(), port=port)],
                }
                stuck_resolves = [f.result() for f in futures]
            after_pause = b.esc("POST", f"/api/handoffs/{ids[0]}/resolve", token=token, port=port)
            kept = {queue.get(i).status for i in ids}
    finally:
        stuck.close()
    for name, replies in during.items():
        for r in replies:
            p.time(f"Rasa stuck: {name}", r.seconds)

        def fast_while_stuck(replies: List[Reply] = replies) -> Verdict:
            slowest = max(r.seconds for r in replies)
            ok = all(r.status == 200 for r in replies) and slowest < FAST_SECONDS
            return verdict(ok, f"{[r.status for r in replies]}, slowest {slowest * 1000:.0f} ms", *replies[:1])

        p.run(F3, f"Rasa stuck: {name} answers fast while 12 resolves wait", fast_while_stuck)
    for r in stuck_resolves:
        p.time("Rasa stuck: resolve (502)", r.seconds)

    def stuck_resolves_502() -> Verdict:
        slowest = max(r.seconds for r in stuck_resolves)
        ok = (
            all(r.status == 502 for r in stuck_resolves) and slowest < STUCK_RASA_LIMIT_SECONDS and kept == {"assigned"}
        )
        return verdict(
            ok,
            f"{[r.status for r in stuck_resolves]}, slowest {slowest:.1f} s (limit "
            f"{STUCK_RASA_LIMIT_SECONDS:.0f}); handoffs {sorted(kept)}",
            *stuck_resolves[:1],
        )

    p.run(F3, "Rasa stuck: 12 parallel resolves get 502 within the timeouts, the agent keeps them", stuck_resolves_502)
    p.time("Rasa stuck: resolve right after a failure", after_pause.seconds)
    p.run(
        F3,
        "Rasa stuck: a resolve right after a failure gets 502 at once",
        lambda: verdict(
            after_pause.status == 502 and after_pause.seconds < FAST_SECONDS,
            f"{after_pause.status} in {after_pause.seconds * 1000:.0f} ms",
            after_pause,
        ),
    )


def snapshot(b: Bench) -> Tuple[Dict[str, tuple], Dict[str, int]]:
    return b.handoff_rows(), b.event_counts()


def probe_state_kept(b: Bench, p: Probes, killed: str, before: Tuple[Dict[str, tuple], Dict[str, int]]) -> None:
    handoffs, events = before

    def handoffs_kept() -> Verdict:
        now = b.handoff_rows()
        lost = [h for h in handoffs if h not in now]
        changed = [
            h
            for h, row in handoffs.items()
            if h in now and now[h][0] != row[0] and not (row[0] == "assigned" and now[h][0] == "waiting")
        ]  # a lease that expired meanwhile
        return Verdict(
            not lost and not changed, f"{len(handoffs)} handoffs before, {len(lost)} lost, {len(changed)} changed"
        )

    def events_kept() -> Verdict:
        now = b.event_counts()
        short = [s for s, n in events.items() if now.get(s, 0) < n]
        return Verdict(
            not short, f"{len(events)} conversations, {sum(events.values())} events before; {len(short)} lost events"
        )

    def open_handoffs_answer() -> Verdict:
        open_ids = [h for h, row in handoffs.items() if row[0] in ("waiting", "assigned")]
        bad = [h for h in open_ids if b.esc("GET", f"/api/handoffs/{h}", token=b.alice).status != 200]
        return Verdict(not bad, f"{len(open_ids)} open handoffs, {len(bad)} not shown by the API")

    p.run(C_STORED, f"after killing the {killed}: every stored handoff is there", handoffs_kept)
    p.run(C_STORED, f"after killing the {killed}: every conversation event is there", events_kept)
    p.run(C_STORED, f"after killing the {killed}: the API shows every open handoff", open_handoffs_answer)


def kill_and_wait(b: Bench, name: str) -> Tuple[float, int, int]:
    """kill -9 of one process; the seconds until the supervisor's new one answers, and the two pids."""
    killed = b.system.supervisor.current(name)
    killed.process.kill()
    killed.process.wait()
    started = time.monotonic()
    if not wait_for(lambda: b.system.supervisor.current(name) is not killed, 60):
        raise RuntimeError(f"the {name} was not restarted within 60 s")
    b.system.wait_until_up()
    return time.monotonic() - started, killed.process.pid, b.system.supervisor.current(name).process.pid


def probe_dead_processes(b: Bench, p: Probes) -> None:
    chat_id, token = b.conversation_id("demo-standard"), b.customer_token("demo-standard")
    b.say(chat_id, "hi", token)
    rasa = b.system.rasa
    start = b.log_size(rasa)
    with b.system.supervisor.holding(launcher.ACTION_SERVER):
        actions = b.system.actions
        actions.process.kill()
        actions.process.wait()
        told = b.say(chat_id, "I want to talk to a person, nobody answers my emails", token)
        p.time("action server dead: answer to 'I want to talk to a person'", told.seconds)
        queued = b.open_handoff(chat_id)
        log = b.log_since(rasa, start)

        def still_answered() -> Verdict:
            texts = [m.get("text") or "" for m in told.json()] if told.status == 200 else []
            retries = log.count("Action server unreachable for action_escalate; retrying")
            ran_here = "running action_escalate in the Rasa server instead" in log
            held = any(texts) and queued is not None and retries == 3 and ran_here
            return verdict(
                held,
                f"{told.status} in {told.seconds:.1f} s: {_short(texts[:1], 70)}; handoff "
                f"{queued and queued['status']} in {queued and queued['queue']}; {retries} retries logged, "
                f"run in Rasa: {ran_here}",
                told,
            )

        p.run(F4, "action server kill -9: 'I want to talk to a person' still answered and queued", still_answered)
    started = time.monotonic()
    restarted = wait_for(lambda: b.system.actions is not actions, 60)
    if restarted:
        launcher.wait_until_up(b.system.actions, timeout=60)
    back_after = time.monotonic() - started
    p.time("action server restarted after the hold (s)", back_after)
    p.run(
        F4,
        "the supervisor restarts the killed action server",
        lambda: Verdict(
            restarted and back_after < RESTART_LIMIT_SECONDS,
            f"pid {actions.process.pid} -> {b.system.actions.process.pid}, answering {back_after:.1f} s "
            "after the hold ended",
        ),
    )
    b.system.wait_until_up()

    def normal_again() -> Verdict:
        start = b.log_size(b.system.rasa)
        reply = b.say(b.conversation_id("demo-vip"), "how long does delivery take?", b.customer_token("demo-vip"))
        instead = "in the Rasa server instead" in b.log_since(b.system.rasa, start)
        return verdict(
            reply.status == 200 and not instead, f"{reply.status}; action run in Rasa instead: {instead}", reply
        )

    p.run(F4, "the restarted action server runs the actions again", normal_again)

    quick_id, quick_token = b.conversation_id("demo-vip"), b.customer_token("demo-vip")
    b.say(quick_id, "hi", quick_token)
    before = snapshot(b)
    b.system.actions.process.kill()  # restarted by the supervisor while Rasa retries

    def answered_during_restart() -> Verdict:
        reply = b.say(quick_id, "I want to talk to a person please", quick_token)
        texts = [m.get("text") for m in reply.json()] if reply.status == 200 else []
        return verdict(
            bool(texts) and b.open_handoff(quick_id) is not None,
            f"{reply.status} in {reply.seconds:.1f} s: {_short(texts[:1], 70)}",
            reply,
        )

    p.run(F4, "action server kill -9 with a quick restart: still answered and queued", answered_during_restart)
    wait_for(lambda: b.system.actions.process.poll() is None, 60)
    b.system.wait_until_up()
    probe_state_kept(b, p, "action server", before)

    for name, label in ((launcher.RASA_SERVER, "Rasa server"), (launcher.ESCALATION_SERVICE, "escalation service")):
        before = snapshot(b)
        seconds, old, new = kill_and_wait(b, name)
        p.time(f"{label} kill -9 until answering again (s)", seconds)
        p.run(
            F4,
            f"the supervisor restarts the killed {label}",
            lambda seconds=seconds, old=old, new=new: Verdict(
                new != old and seconds < RESTART_LIMIT_SECONDS, f"pid {old} -> {new}, answering after {seconds:.1f} s"
            ),
        )
        probe_state_kept(b, p, label, before)

    def conversation_goes_on() -> Verdict:
        before_texts = b.user_texts(chat_id)
        reply = b.say(chat_id, "thanks, I'll wait", token)
        after = b.user_texts(chat_id)
        return verdict(
            reply.status == 200 and after[: len(before_texts)] == before_texts and len(after) == len(before_texts) + 1,
            f"{len(before_texts)} messages before the kills are still there, the new one added",
            reply,
        )

    p.run(C_STORED, "after all kills: an old conversation goes on with its history", conversation_goes_on)

    def sign_out_survives() -> Verdict:
        if b.signed_out is None:
            return Verdict(False, "no signed-out token to check (the sign-out probe did not run)")
        reply = b.esc("GET", "/api/me", token=b.signed_out)
        return verdict(reply.status == 401, f"a signed-out token after the service restart: {reply.status}", reply)

    p.run(C_STORED, "after killing the escalation service: a signed-out token stays revoked", sign_out_survives)


# --- the run and the report -------------------------------------------------------------------------


class SupervisorWatch:
    """Passes stderr through and keeps the supervisor's reports of exited processes, so that a process that
    died without this probe killing it shows in the report."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.exits: List[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if " exited (code " in line:
                self.exits.append(f"{datetime.now(timezone.utc):%H:%M:%S} {line.split(';')[0]}")
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def log_summary(services: Sequence[launcher.Service]) -> List[str]:
    """ERROR lines and tracebacks each process logged during the whole run, alike messages counted once."""
    lines = ["| process | ERROR lines | tracebacks | distinct ERROR messages (count) |", "|---|---|---|---|"]
    for service in services:
        text = service.log_path.read_text(errors="replace")
        errors = [
            line
            for line in text.splitlines()
            if ERROR_LINE.match(line) or line.startswith("ERROR:") or "[ERROR]" in line
        ]
        normalised = Counter(re.sub(r"[0-9a-f]{8,}[.\w-]*|\d+", "#", line.split(" - ", 1)[-1])[:150] for line in errors)
        distinct = "<br>".join(f"{message.replace('|', '/')} ({count})" for message, count in normalised.most_common(8))
        tracebacks = text.count("Traceback (most recent call last)")
        lines.append(f"| {service.name} | {len(errors)} | {tracebacks} | {distinct or '-'} |")
    return lines


def add_probe_accounts(settings: Settings) -> None:
    directory = AgentDirectory(Database.from_url(settings.customer_db_url))
    for n in range(PROBE_ACCOUNTS):
        directory.add(
            f"probe-agent-{n}",
            role="agent",
            display_name=f"Probe Agent {n}",
            queues=["general"],
            password=f"a long password {uuid.uuid4().hex}",
            known_queues=["concierge", "retention", "sales", "general"],
        )


def chart(results: List[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c for c in CATEGORIES if any(r.category == c for r in results)]
    held = [sum(r.held for r in results if r.category == c) for c in names]
    missed = [sum(not r.held for r in results if r.category == c) for c in names]
    fig, ax = plt.subplots(figsize=(9, 6))
    rows = list(range(len(names)))[::-1]
    ax.barh(rows, held, color="#2e7d32", label="held")
    ax.barh(rows, missed, left=held, color="#c62828", label="did not hold")
    for row, h, m in zip(rows, held, missed):
        ax.text(h + m + 1, row, f"{h}/{h + m}", va="center", fontsize=8)
    ax.set_yticks(rows)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("probes")
    ax.set_xlim(0, max(h + m for h, m in zip(held, missed)) * 1.15)
    ax.set_title(f"Security probe: {len(results)} probes, {sum(held)} held")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_body(
    results: List[Result], timings: Dict[str, List[float]], seconds: float, logs: List[str], exits: List[str]
) -> str:
    lines = [
        __doc__.split("\n\n", 1)[0].strip(),
        "",
        f"Machine: {machine_description()}. Date: {run_stamp()}. Whole run: {seconds / 60:.1f} minutes.",
        "",
        "| category | probes | held | did not hold |",
        "|---|---|---|---|",
    ]
    for category in CATEGORIES:
        mine = [r for r in results if r.category == category]
        if mine:
            held = sum(r.held for r in mine)
            lines.append(f"| {category} | {len(mine)} | {held} | {len(mine) - held} |")
    total_held = sum(r.held for r in results)
    lines += [f"| **all** | **{len(results)}** | **{total_held}** | **{len(results) - total_held}** |", ""]
    missed = [r for r in results if not r.held]
    lines.append(f"## Probes that did not hold ({len(missed)})")
    lines.append("")
    if not missed:
        lines.append("None.")
    for r in missed:
        lines += [f"- **{r.category} / {r.name}**: {r.detail}"]
        if r.evidence:
            lines += ["  ```", *[f"  {line}" for line in r.evidence.splitlines()[:24]], "  ```"]
    lines += ["", "## Latencies and timings", "", "| what | n | median | max |", "|---|---|---|---|"]
    for name, values in timings.items():
        unit_s = "(s)" in name
        fmt = (lambda v: f"{v:.1f} s") if unit_s else (lambda v: f"{v * 1000:.0f} ms")
        lines.append(
            f"| {name.replace(' (s)', '')} | {len(values)} | {fmt(statistics.median(values))} | {fmt(max(values))} |"
        )
    lines += [
        "",
        f'Thresholds, fixed before the run: "fast" is under {FAST_SECONDS:.0f} s; with a Rasa that never answers '
        f"a resolve may take the Rasa client's timeouts (under {STUCK_RASA_LIMIT_SECONDS:.0f} s); a killed process "
        f"must answer again within {RESTART_LIMIT_SECONDS:.0f} s; wrong-password medians for existing and unknown "
        f"names may differ by {SAME_TIMING_MS:.0f} ms or {SAME_TIMING_SHARE:.0%} of the median, whichever is larger.",
        "",
        "## What the processes logged during the run",
        "",
        "Some ERROR lines are expected: the probe kills processes and sends malformed input on purpose (the Rasa "
        "server logs an ERROR when it runs an action itself because the action server is dead).",
        "",
        *logs,
        "",
        f"Process exits the supervisor reported ({len(exits)}; this probe kills the action server twice, the Rasa "
        "server twice and the escalation service once):",
        "",
        *[f"- {line}" for line in exits],
        "",
        "![probes per category](security_probe.png)",
    ]
    return "\n".join(lines)


def run_probes(b: Bench, p: Probes) -> None:
    steps: Sequence[Tuple[str, Callable[[Bench, Probes], None]]] = [
        (C_TOKENS, probe_customer_tokens),
        (C_SLOTS, probe_slot_injection),
        (C_CREDS, probe_bad_credentials),
        (C_TRAVERSAL, probe_static_traversal),
        (C_BIG, probe_huge_and_deep_json),
        (C_MALFORMED, probe_malformed_bodies),
        (C_XSS, probe_xss_and_csp),
        (C_CLAIMS, probe_racing_claims),
        (F1, probe_webhook_spellings),
        (F2, probe_action_server),
        (F5, probe_cursor_bounds),
        (F6, probe_sign_in),
        (F7, probe_demo_accounts),
        (F8, probe_payloads_and_resolve),
        (F9, probe_resolve_races),
        (F3, probe_rasa_down),
        (F4, probe_dead_processes),
    ]
    for category, step in steps:
        print(f"==> {category}", flush=True)
        started = time.monotonic()
        try:
            step(b, p)
        except Exception as error:  # a set-up that failed: recorded as a probe that did not hold
            p.run(
                category,
                f"set-up of {step.__name__}",
                lambda error=error: Verdict(
                    False, f"{type(error).__name__}: {_short(error, 300)}", traceback.format_exc(limit=6)
                ),
            )
        print(f"    {time.monotonic() - started:.1f} s", flush=True)


def main() -> List[Result]:
    started = time.monotonic()
    model = train()
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        settings = throwaway_settings(
            tmp,
            ESCALATION_RULES_FILE=write_round_the_clock_copy(tmp / "rules.yml", routing="pull"),  # claims race
            DEMO_ACCOUNTS="true",
            DEMO_PAGE_ENABLED="true",
            **launcher.ALL_DAY_PRESENCE,
        )
        migrate(settings.customer_db_url)
        seed_customers(CustomerRepository.from_url(settings.customer_db_url), settings.seed_customer_count)
        add_probe_accounts(settings)
        print("==> Starting the system", flush=True)
        watch = SupervisorWatch(sys.stderr)
        sys.stderr = watch  # type: ignore[assignment]
        try:
            with launcher.running_system(settings, model, tmp / "logs") as system:
                system.put_on_shift(["alice", "bob"])
                services = lambda: [system.rasa.log_path, system.actions.log_path, system.escalation.log_path]  # noqa: E731
                probes = Probes(services)
                run_probes(Bench(system, tmp, probes), probes)
                logs = log_summary([system.actions, system.rasa, system.escalation])
        finally:
            sys.stderr = watch.stream
    results, seconds = probes.results, time.monotonic() - started
    chart(results, REPORTS_DIR / "security_probe.png")
    body = report_body(results, probes.timings, seconds, logs, watch.exits)
    path = write_report("security_probe", "Security probe of the running product (issue 10, re-run)", body)
    print(body)
    print(f"Report: {path}")
    return results


if __name__ == "__main__":
    main()
