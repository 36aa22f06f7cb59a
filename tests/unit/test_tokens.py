import time

import jwt
import pytest

from common.tokens import mint, verify

# Tokens below are built when pytest collects the module, maybe minutes before the test runs:
# they get an hour of validity, not a minute.
SECRET, ISSUER = "s3cret-" * 6, "larkspur-website"


def test_valid_token_names_the_customer():
    identity = verify(mint("demo-vip", SECRET, ISSUER, 60), SECRET, ISSUER)
    assert identity.subject == "demo-vip" and identity.reason == "verified"


@pytest.mark.parametrize(
    "token, reason",
    [
        (None, "no token"),
        ("", "no token"),
        (12345, "malformed"),
        ("not.a.jwt", "invalid token"),
        ("x" * 5000, "malformed"),
        (mint("demo-vip", "another-secret-" * 3, ISSUER, 3600), "bad signature"),
        (mint("demo-vip", SECRET, ISSUER, 60, now=time.time() - 3600), "expired"),
        (mint("demo-vip", SECRET, "someone-else", 3600), "invalid token"),
        (
            jwt.encode({"sub": "demo-vip", "iss": ISSUER, "exp": time.time() + 3600}, None, algorithm="none"),
            "invalid token",
        ),
        (jwt.encode({"sub": "demo-vip", "iss": ISSUER}, SECRET, algorithm="HS256"), "invalid token"),  # no exp
        (
            jwt.encode({"sub": "a" * 65, "iss": ISSUER, "exp": time.time() + 3600}, SECRET, algorithm="HS256"),
            "invalid subject",
        ),
    ],
    # Stable ids (the tokens hold the time they were made): test workers must collect the same names.
    ids=[
        "none",
        "empty",
        "number",
        "not-a-jwt",
        "too-long",
        "other-secret",
        "expired",
        "other-issuer",
        "alg-none",
        "no-expiry",
        "long-subject",
    ],
)
def test_bad_tokens_are_anonymous_with_a_reason(token, reason):
    identity = verify(token, SECRET, ISSUER)
    assert identity.subject is None
    assert reason in identity.reason


def test_token_ids_and_extra_claims_come_back():
    token = mint("alice", SECRET, ISSUER, 3600, token_id="t-1", extra_claims={"gen": 2})
    identity = verify(token, SECRET, ISSUER)
    assert identity.token_id == "t-1" and identity.claims["gen"] == 2 and identity.expires_at > time.time()
    assert verify(mint("alice", SECRET, ISSUER, 3600), SECRET, ISSUER).token_id is None  # as before: no jti
    for bad_id in (7, "x" * 65):
        token = jwt.encode(
            {"sub": "a", "iss": ISSUER, "exp": time.time() + 60, "jti": bad_id}, SECRET, algorithm="HS256"
        )
        assert verify(token, SECRET, ISSUER).subject is None
    with pytest.raises(ValueError):
        mint("alice", SECRET, ISSUER, 60, extra_claims={"sub": "mallory"})


def test_token_cli_prints_only_the_token(capsys, monkeypatch, tmp_path):
    from common.database import Database, migrate
    from escalation.queue.agents import AGENT_TOKEN_ISSUER, AgentDirectory, agent_from_token
    from tools import tokens

    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    for key, value in {
        "CUSTOMER_TOKEN_SECRET": SECRET,
        "RASA_TOKEN": "t",
        "CUSTOMER_TOKEN_ISSUER": ISSUER,
        "AGENT_TOKEN_SECRET": "agent-secret",
        "AGENT_TOKEN_TTL_SECONDS": "600",
        "DEMO_AGENT_PASSWORD": "p",
        "ACTION_SERVER_TOKEN": "x",
        "CUSTOMER_DB_URL": url,
    }.items():
        monkeypatch.setenv(key, value)
    assert tokens.main(["customer", "demo-free"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify(printed, SECRET, ISSUER).subject == "demo-free"

    migrate(url)
    directory = AgentDirectory(Database.from_url(url))
    directory.seed_demo_agents("a-demo-password")
    directory.set_password("tara", "a new long password")  # any active account, at its token generation
    assert tokens.main(["agent", "tara"]) == 0
    identity = verify(capsys.readouterr().out.strip(), "agent-secret", AGENT_TOKEN_ISSUER)
    assert identity.subject == "tara" and identity.expires_at - identity.claims["iat"] == 600
    assert tokens.main(["agent", "bob"]) == 0
    assert agent_from_token(capsys.readouterr().out.strip(), "agent-secret", directory).name == "bob"

    directory.deactivate("bob")
    for refused in ("bob", "mallory"):  # deactivated, no such account
        assert tokens.main(["agent", refused]) == 1
        assert "no active account named" in capsys.readouterr().err
    for wrong in ([], ["demo-free"], ["agent", ""], ["customer", ""]):
        assert tokens.main(wrong) == 2


def test_a_token_with_a_lone_surrogate_is_malformed_not_an_exception():
    assert verify("\ud800", SECRET, ISSUER).subject is None
    assert "malformed" in verify("abc.\udfff.def", SECRET, ISSUER).reason
