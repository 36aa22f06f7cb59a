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


@pytest.mark.parametrize("page", ["/", "/console", "/trainer"])
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
    assert service.client.get("/health").json == {"status": "ok"}
