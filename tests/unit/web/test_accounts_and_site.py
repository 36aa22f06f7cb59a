"""Sign-in, roles, pages and static files of the escalation service, in-process."""

from __future__ import annotations

import pytest

from escalation.queue.agents import agent_token


def test_sign_in_and_me(service):
    wrong = service.client.post("/api/sign-in", json={"agent": "alice", "password": "guess"})
    assert wrong.status == 401 and "error" in wrong.json
    assert service.client.post("/api/sign-in", json=["alice"]).status == 400
    assert (
        service.client.post("/api/sign-in", body=b"{not json", headers={"content-type": "application/json"}).status
        == 400
    )
    right = service.client.post(
        "/api/sign-in", json={"agent": "alice", "password": service.settings.demo_agent_password}
    )
    assert right.status == 200 and right.json["agent"]["name"] == "alice"
    me = service.client.get("/api/me", token=right.json["token"])
    assert me.status == 200 and me.json["name"] == "alice" and me.json["role"] == "agent"
    assert service.api("GET", "/api/me", person="tara").json["role"] == "trainer"


@pytest.mark.parametrize(
    "path",
    ["/api/me", "/api/queues", "/api/handoffs", "/api/handoffs/x", "/api/training/inbox", "/api/training/releases"],
)
def test_every_api_route_needs_a_valid_token(service, path):
    assert service.client.get(path).status == 401
    assert service.client.get(path, token=agent_token("alice", "not-the-secret")).status == 401
    assert service.client.get(path, token=service.token("mallory")).status == 401  # no such person
    assert service.client.get(path, token="garbage").json["error"].startswith("Sign in")


@pytest.mark.parametrize(
    "person, path, status",
    [
        ("tara", "/api/handoffs", 403),
        ("tara", "/api/queues", 403),
        ("tara", "/api/training/inbox", 200),
        ("alice", "/api/training/inbox", 403),
        ("bob", "/api/training/labels", 403),
        ("alice", "/api/handoffs", 200),
    ],
)
def test_roles_are_separate(service, person, path, status):
    response = service.api("GET", path, person=person)
    assert response.status == status, response.json
    if status == 403:
        assert "role" in response.json["error"]


@pytest.mark.parametrize("page", ["/", "/console", "/trainer", "/analytics"])
def test_pages_have_a_strict_content_security_policy(service, page):
    response = service.client.get(page)
    assert response.status == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_the_website_lets_the_widget_reach_rasa(service):
    csp = service.client.get("/").headers["content-security-policy"]
    assert (
        f"http://testserver:{service.settings.rasa_port}" in csp
        and f"ws://testserver:{service.settings.rasa_port}" in csp
    )


@pytest.mark.parametrize(
    "path, status",
    [
        ("/static/console.js", 200),
        ("/static/site.css", 200),
        ("/static/webchat.js", 200),
        ("/static/chart.js", 200),
        ("/static/analytics.js", 200),
        ("/static/console.html", 404),
        ("/static/..%2Fapp.py", 404),
        ("/static/%2e%2e%2fapp.py", 404),
        ("/static/nothing.js", 404),
        ("/static/..%2F..%2F..%2Fcommon%2Fsettings.py", 404),
    ],
)
def test_static_files_and_nothing_else(service, path, status):
    response = service.client.get(path)
    assert response.status == status
    if status == 404:
        assert "error" in response.json


def test_demo_tokens(service):
    config = service.client.get("/demo/config").json
    assert config["demo"] and "demo-vip" in config["personas"]
    assert service.client.post("/demo/token", json={"persona": "demo-vip"}).json["token"]
    assert service.client.post("/demo/token", json={"persona": None}).json == {"persona": None, "token": None}
    assert service.client.post("/demo/token", json={"persona": "someone-else"}).status == 400
    for odd in ([], {}, 7, ["demo-vip"]):  # found by the probe: a list was a 500
        assert service.client.post("/demo/token", json={"persona": odd}).status == 400, odd
    assert service.client.get("/health").json == {"status": "ok"}


# --- sign-out and revocation -----------------------------------------------------------------------


def sign_in(service, name="alice", password=None, headers=None):
    password = service.settings.demo_agent_password if password is None else password
    return service.client.post("/api/sign-in", json={"agent": name, "password": password}, headers=headers)


def test_me_shows_the_capacity(service):
    assert service.api("GET", "/api/me").json["capacity"] == 3
    assert sign_in(service).json["agent"]["capacity"] == 3


def test_sign_out_revokes_the_token_it_was_sent_with(service):
    first, second = sign_in(service).json["token"], sign_in(service).json["token"]
    signed_out = service.client.post("/api/sign-out", token=first)
    assert signed_out.status == 204 and signed_out.body == b""
    assert service.client.get("/api/me", token=first).status == 401
    assert service.client.get("/api/handoffs", token=first).status == 401
    assert service.client.post("/api/sign-out", token=first).status == 401
    assert service.client.get("/api/me", token=second).status == 200  # another sign-in (another browser) goes on
    assert service.client.post("/api/sign-out").status == 401
    trainer = service.token("tara")
    assert service.client.post("/api/sign-out", token=trainer).status == 204  # any role
    assert service.client.get("/api/training/inbox", token=trainer).status == 401


def test_deactivating_revokes_every_token_for_good(service):
    token = sign_in(service).json["token"]
    service.services.agents.deactivate("alice")
    assert service.client.get("/api/me", token=token).status == 401
    assert sign_in(service).status == 401
    service.services.agents.activate("alice")
    assert service.client.get("/api/me", token=token).status == 401  # the old sign-in stays ended
    assert service.client.get("/api/me", token=sign_in(service).json["token"]).status == 200


def test_a_new_password_revokes_every_token(service):
    token, minted = sign_in(service).json["token"], service.token("alice")
    service.services.agents.set_password("alice", "correct horse battery")
    assert service.client.get("/api/me", token=token).status == 401
    assert service.client.get("/api/me", token=minted).status == 401
    assert sign_in(service).status == 401
    fresh = sign_in(service, password="correct horse battery")
    assert fresh.status == 200 and service.client.get("/api/me", token=fresh.json["token"]).status == 200


def test_tokens_last_agent_token_ttl_seconds(service):
    from common.tokens import verify
    from escalation.queue.agents import AGENT_TOKEN_ISSUER

    identity = verify(sign_in(service).json["token"], service.settings.agent_token_secret, AGENT_TOKEN_ISSUER)
    assert identity.expires_at - identity.claims["iat"] == service.settings.agent_token_ttl_seconds == 43200


# --- throttling ------------------------------------------------------------------------------------

THROTTLED = {"SIGN_IN_FAILURES_PER_ACCOUNT": 2, "SIGN_IN_FAILURES_PER_ADDRESS": 4, "SIGN_IN_WINDOW_SECONDS": 60}


@pytest.fixture
def no_delay(monkeypatch):
    from escalation.web import accounts

    monkeypatch.setattr(accounts, "WRONG_PASSWORD_DELAY_SECONDS", 0)


@pytest.mark.parametrize("settings_overrides", [THROTTLED])
def test_too_many_failures_for_an_account_get_429_even_with_the_right_password(service, no_delay):
    assert [sign_in(service, password="guess").status for _ in range(2)] == [401, 401]
    service.clock.advance(seconds=20)
    locked = sign_in(service)  # the right password: not even checked
    assert locked.status == 429 and locked.headers["retry-after"] == "40"  # the first failure leaves at 60 s
    assert locked.json["retry_after_seconds"] == 40 and "try again in 40 seconds" in locked.json["error"]
    assert sign_in(service, name="bob").status == 200  # other accounts are not locked
    service.clock.advance(seconds=39)
    assert sign_in(service).headers["retry-after"] == "1"
    service.clock.advance(seconds=1)
    assert sign_in(service).status == 200


@pytest.mark.parametrize("settings_overrides", [THROTTLED])
def test_a_successful_sign_in_clears_the_accounts_failures(service, no_delay):
    statuses = [sign_in(service, password=password).status for password in ("guess", None, "guess", None, "guess")]
    assert statuses == [401, 200, 401, 200, 401]  # without clearing, the fourth would be 429
    assert sign_in(service, password="guess").status == 401
    assert sign_in(service).status == 429


@pytest.mark.parametrize("settings_overrides", [THROTTLED])
def test_too_many_failures_from_an_address_get_429_for_every_name(service, no_delay):
    spoofed = [{"x-forwarded-for": f"198.51.100.{n}"} for n in range(4)]  # no trusted proxy: ignored
    for name, headers in zip(("alice", "bob", "tara", "nobody"), spoofed):
        assert sign_in(service, name=name, password="guess", headers=headers).status == 401
    locked = sign_in(service, name="bob")
    assert locked.status == 429 and locked.headers["retry-after"] == "60"


@pytest.mark.parametrize("settings_overrides", [{**THROTTLED, "TRUSTED_PROXIES": 1}])
def test_behind_a_trusted_proxy_the_forwarded_address_counts(service, no_delay):
    assert service.client.app.config.PROXIES_COUNT == 1  # set by the service's wiring
    first, second = {"x-forwarded-for": "203.0.113.5"}, {"x-forwarded-for": "203.0.113.6"}
    for name in ("alice", "bob", "tara", "nobody"):
        assert sign_in(service, name=name, password="guess", headers=first).status == 401
    assert sign_in(service, name="bob", headers=first).status == 429
    assert sign_in(service, name="bob", headers=second).status == 200


def test_an_unknown_name_costs_one_pbkdf2_like_a_known_one(service, monkeypatch, no_delay):
    import hashlib

    calls = []
    original = hashlib.pbkdf2_hmac

    def counting(*args, **kwargs):
        calls.append(args[3])  # the iterations
        return original(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    service.services.agents.deactivate("bob")
    for name in ("alice", "nobody", "bob", 12345, None):  # known, unknown, deactivated, not even a name
        calls.clear()
        assert sign_in(service, name=name, password="guess").status == 401
        assert calls == [200_000], name


@pytest.mark.parametrize("page", ["/console", "/trainer", "/analytics"])
def test_the_pages_have_a_sign_out_button_that_revokes_the_token(service, page):
    assert '<button id="sign-out" type="button"' in service.client.get(page).body.decode()
    assert 'fetch("/api/sign-out", {method: "POST"' in service.client.get("/static/common.js").body.decode()
