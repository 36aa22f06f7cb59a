"""The one place settings are read: the process environment, then `.env`, then safe defaults.

Every setting is documented in `.env.example`. Secrets have no default: `make demo` / `make test`
create `.env` with fresh secrets, and a process started without them fails with the setting's name.
"""
from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
VAR_DIR = PROJECT_ROOT / "var"


class MissingSetting(RuntimeError):
    """A required setting (a secret) is not configured."""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


DEFAULTS = {
    "CUSTOMER_DB_URL": _sqlite_url(VAR_DIR / "customers.db"),
    "TRACKER_DB_PATH": str(VAR_DIR / "tracker.db"),
    "RASA_HOST": "127.0.0.1",
    "RASA_PORT": "5005",
    "ACTION_SERVER_PORT": "5055",
    "CUSTOMER_TOKEN_TTL_SECONDS": "86400",
    "CUSTOMER_TOKEN_ISSUER": "larkspur-website",
    "MAX_MESSAGE_CHARS": "2000",
    "SEED_CUSTOMER_COUNT": "240",
    "LOG_LEVEL": "INFO",
    "TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "ESCALATION_PORT": "8000",
    "ESCALATION_RULES_FILE": str(PROJECT_ROOT / "escalation" / "rules.yml"),
    "DEMO_PAGE_ENABLED": "true",
    "WIDGET_SOCKET_URL": "",
    "BOT_PROJECT_DIR": str(PROJECT_ROOT),
    "REVIEW_CONFIDENCE_BELOW": "0.5",
    "HELDOUT_SHARE": "0.25",
    "RELEASE_TOLERANCE_OVERALL": "0.02",
    "RELEASE_TOLERANCE_PER_LABEL": "0.10",
    "RELEASE_MIN_LABEL_EXAMPLES": "3",
}
SECRETS = ("CUSTOMER_TOKEN_SECRET", "RASA_TOKEN", "AGENT_TOKEN_SECRET", "DEMO_AGENT_PASSWORD")


@dataclass(frozen=True)
class Settings:
    customer_db_url: str
    tracker_db_path: str
    rasa_host: str
    rasa_port: int
    action_server_port: int
    customer_token_secret: str
    customer_token_ttl_seconds: int
    customer_token_issuer: str
    rasa_token: str
    max_message_chars: int
    seed_customer_count: int
    log_level: str
    test_postgres_url: str  # tests only: a server where they may create and drop databases
    agent_token_secret: str
    escalation_port: int
    escalation_rules_file: str
    demo_agent_password: str  # the demo agents' (alice, bob) console password
    demo_page_enabled: bool  # the website demo page mints tokens for the demo personas
    widget_socket_url: str  # where the widget reaches Rasa's socket.io; "" = the page's host, RASA_PORT
    bot_project_dir: str  # the training data, domain, config and held-out sets trainers work on
    review_confidence_below: float  # the inbox shows messages understood with less confidence
    heldout_share: float  # share of every labelled batch that goes to the held-out set
    release_tolerance_overall: float  # a candidate may be at most this much less accurate overall
    release_tolerance_per_label: float  # ... and at most this much on any label with enough examples
    release_min_label_examples: int  # labels with fewer held-out examples count only overall

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.action_server_port}/webhook"


def _merged(env: Optional[Mapping[str, str]], env_file: Optional[Path]) -> dict:
    values = dict(DEFAULTS)
    path = env_file if env_file is not None else DEFAULT_ENV_FILE
    if path.exists():
        values.update({k: v for k, v in dotenv_values(path).items() if v not in (None, "")})
    source = os.environ if env is None else env
    values.update({k: v for k, v in source.items() if (k in DEFAULTS or k in SECRETS) and v != ""})
    return values


def _int(values: dict, key: str) -> int:
    try:
        return int(values[key])
    except ValueError:
        raise ValueError(f"Setting {key} must be a whole number, got {values[key]!r}") from None


def _fraction(values: dict, key: str) -> float:
    try:
        value = float(values[key])
    except ValueError:
        raise ValueError(f"Setting {key} must be a number between 0 and 1, got {values[key]!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"Setting {key} must be between 0 and 1, got {value}")
    return value


def _bool(values: dict, key: str) -> bool:
    value = str(values[key]).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"Setting {key} must be true or false, got {values[key]!r}")
    return value in ("true", "1", "yes")


def setting(key: str, env_file: Optional[Path] = None) -> str:
    """One non-secret setting (environment, then `.env`, then default), for code that runs where
    the secrets may be absent, such as `rasa train`."""
    return _merged(None, env_file)[key]


def load_settings(
    env: Optional[Mapping[str, str]] = None, env_file: Optional[Path] = None
) -> Settings:
    """Reads settings; `env` replaces `os.environ` (tests pass their own)."""
    values = _merged(env, env_file)
    missing = [key for key in SECRETS if not values.get(key)]
    if missing:
        raise MissingSetting(
            f"Missing setting(s) {', '.join(missing)}. Run `make env` to create .env with fresh "
            f"secrets, or set them in the environment."
        )
    return Settings(
        customer_db_url=values["CUSTOMER_DB_URL"],
        tracker_db_path=values["TRACKER_DB_PATH"],
        rasa_host=values["RASA_HOST"],
        rasa_port=_int(values, "RASA_PORT"),
        action_server_port=_int(values, "ACTION_SERVER_PORT"),
        customer_token_secret=values["CUSTOMER_TOKEN_SECRET"],
        customer_token_ttl_seconds=_int(values, "CUSTOMER_TOKEN_TTL_SECONDS"),
        customer_token_issuer=values["CUSTOMER_TOKEN_ISSUER"],
        rasa_token=values["RASA_TOKEN"],
        max_message_chars=_int(values, "MAX_MESSAGE_CHARS"),
        seed_customer_count=_int(values, "SEED_CUSTOMER_COUNT"),
        log_level=values["LOG_LEVEL"],
        test_postgres_url=values["TEST_POSTGRES_URL"],
        agent_token_secret=values["AGENT_TOKEN_SECRET"],
        escalation_port=_int(values, "ESCALATION_PORT"),
        escalation_rules_file=values["ESCALATION_RULES_FILE"],
        demo_agent_password=values["DEMO_AGENT_PASSWORD"],
        demo_page_enabled=_bool(values, "DEMO_PAGE_ENABLED"),
        widget_socket_url=values["WIDGET_SOCKET_URL"],
        bot_project_dir=values["BOT_PROJECT_DIR"],
        review_confidence_below=_fraction(values, "REVIEW_CONFIDENCE_BELOW"),
        heldout_share=_fraction(values, "HELDOUT_SHARE"),
        release_tolerance_overall=_fraction(values, "RELEASE_TOLERANCE_OVERALL"),
        release_tolerance_per_label=_fraction(values, "RELEASE_TOLERANCE_PER_LABEL"),
        release_min_label_examples=_int(values, "RELEASE_MIN_LABEL_EXAMPLES"),
    )


def as_environment(settings: Settings) -> dict:
    """The settings as environment variables, for child processes (which then ignore `.env`)."""
    values = {
        "CUSTOMER_DB_URL": settings.customer_db_url, "TRACKER_DB_PATH": settings.tracker_db_path,
        "RASA_HOST": settings.rasa_host, "RASA_PORT": settings.rasa_port,
        "ACTION_SERVER_PORT": settings.action_server_port,
        "CUSTOMER_TOKEN_SECRET": settings.customer_token_secret,
        "CUSTOMER_TOKEN_TTL_SECONDS": settings.customer_token_ttl_seconds,
        "CUSTOMER_TOKEN_ISSUER": settings.customer_token_issuer, "RASA_TOKEN": settings.rasa_token,
        "MAX_MESSAGE_CHARS": settings.max_message_chars, "SEED_CUSTOMER_COUNT": settings.seed_customer_count,
        "LOG_LEVEL": settings.log_level, "TEST_POSTGRES_URL": settings.test_postgres_url,
        "AGENT_TOKEN_SECRET": settings.agent_token_secret, "ESCALATION_PORT": settings.escalation_port,
        "ESCALATION_RULES_FILE": settings.escalation_rules_file,
        "DEMO_AGENT_PASSWORD": settings.demo_agent_password,
        "DEMO_PAGE_ENABLED": "true" if settings.demo_page_enabled else "false",
        "WIDGET_SOCKET_URL": settings.widget_socket_url,
        "BOT_PROJECT_DIR": settings.bot_project_dir,
        "REVIEW_CONFIDENCE_BELOW": settings.review_confidence_below,
        "HELDOUT_SHARE": settings.heldout_share,
        "RELEASE_TOLERANCE_OVERALL": settings.release_tolerance_overall,
        "RELEASE_TOLERANCE_PER_LABEL": settings.release_tolerance_per_label,
        "RELEASE_MIN_LABEL_EXAMPLES": settings.release_min_label_examples,
    }
    missing = (set(DEFAULTS) | set(SECRETS)) - set(values)
    assert not missing, f"as_environment() misses {missing}"
    return {key: str(value) for key, value in values.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_settings(directory: Path, **overrides: object) -> Settings:
    """Settings for a short-lived copy of the system (tests, benchmarks): fresh secrets, free
    ports and databases inside `directory`; never reads `.env`."""
    env = {
        "CUSTOMER_TOKEN_SECRET": secrets.token_urlsafe(32),
        "RASA_TOKEN": secrets.token_urlsafe(32),
        "AGENT_TOKEN_SECRET": secrets.token_urlsafe(32),
        "DEMO_AGENT_PASSWORD": secrets.token_urlsafe(12),
        "ESCALATION_PORT": str(free_port()),
        "CUSTOMER_DB_URL": f"sqlite:///{directory / 'customers.db'}",
        "TRACKER_DB_PATH": str(directory / "tracker.db"),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return load_settings(env=env, env_file=directory / "no.env")
