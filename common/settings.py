"""The one place settings are read: the process environment, then `.env`, then safe defaults.

Every setting is documented in `.env.example`. Secrets have no default: `make demo` / `make test`
create `.env` with fresh secrets, and a process started without them fails with the setting's name.
Each setting is declared once, as a field of `Settings` with its environment name, default and kind;
reading, checking and handing settings to child processes all follow from that one declaration.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
VAR_DIR = PROJECT_ROOT / "var"


class MissingSetting(RuntimeError):
    """A required setting (a secret) is not configured."""


def _whole_number(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"Setting {key} must be a whole number, got {raw!r}") from None


def _fraction(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Setting {key} must be a number between 0 and 1, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"Setting {key} must be between 0 and 1, got {value}")
    return value


def _flag(key: str, raw: str) -> bool:
    value = str(raw).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"Setting {key} must be true or false, got {raw!r}")
    return value in ("true", "1", "yes")


def _text(_key: str, raw: str) -> str:
    return raw


def _one_of(*choices: str) -> Callable[[str, str], str]:
    def parse(key: str, raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"Setting {key} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    return parse


def _setting(
    env: str, default: Optional[str] = None, parse: Callable[[str, str], Any] = _text, secret: bool = False
) -> Any:
    """A settings field: its environment name, its default (None: required) and how to read it."""
    return field(metadata={"env": env, "default": default, "parse": parse, "secret": secret})


@dataclass(frozen=True)
class Settings:
    customer_db_url: str = _setting("CUSTOMER_DB_URL", f"sqlite:///{VAR_DIR / 'customers.db'}")
    tracker_db_path: str = _setting("TRACKER_DB_PATH", str(VAR_DIR / "tracker.db"))
    rasa_host: str = _setting("RASA_HOST", "127.0.0.1")
    rasa_port: int = _setting("RASA_PORT", "5005", _whole_number)
    # origins whose pages may call Rasa's REST channel and HTTP API from a browser (space-separated)
    rasa_cors_origins: str = _setting("RASA_CORS_ORIGINS", "*")
    action_server_port: int = _setting("ACTION_SERVER_PORT", "5055", _whole_number)
    # the action server answers only Rasa: on this interface, and only calls that carry this token
    action_server_host: str = _setting("ACTION_SERVER_HOST", "127.0.0.1")
    action_server_token: str = _setting("ACTION_SERVER_TOKEN", secret=True)
    customer_token_secret: str = _setting("CUSTOMER_TOKEN_SECRET", secret=True)
    customer_token_ttl_seconds: int = _setting("CUSTOMER_TOKEN_TTL_SECONDS", "86400", _whole_number)
    customer_token_issuer: str = _setting("CUSTOMER_TOKEN_ISSUER", "larkspur-website")
    rasa_token: str = _setting("RASA_TOKEN", secret=True)
    max_message_chars: int = _setting("MAX_MESSAGE_CHARS", "2000", _whole_number)
    seed_customer_count: int = _setting("SEED_CUSTOMER_COUNT", "240", _whole_number)
    log_level: str = _setting("LOG_LEVEL", "INFO")
    # tests only: a server where they may create and drop databases
    test_postgres_url: str = _setting("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    agent_token_secret: str = _setting("AGENT_TOKEN_SECRET", secret=True)
    escalation_port: int = _setting("ESCALATION_PORT", "8000", _whole_number)
    escalation_rules_file: str = _setting("ESCALATION_RULES_FILE", str(PROJECT_ROOT / "escalation" / "rules.yml"))
    # the demo accounts (agents alice and bob, trainer tara) exist and can sign in; off unless set
    demo_accounts: bool = _setting("DEMO_ACCOUNTS", "false", _flag)
    # the demo accounts' password (used only with DEMO_ACCOUNTS=true)
    demo_agent_password: str = _setting("DEMO_AGENT_PASSWORD", secret=True)
    # the website demo page mints tokens for the demo personas; off unless set
    demo_page_enabled: bool = _setting("DEMO_PAGE_ENABLED", "false", _flag)
    # how long a console sign-in lasts (an agent's shift), in seconds; sign-out ends it sooner
    agent_token_ttl_seconds: int = _setting("AGENT_TOKEN_TTL_SECONDS", "43200", _whole_number)
    # failed sign-ins allowed per account, and per client address, within the window; then 429
    sign_in_failures_per_account: int = _setting("SIGN_IN_FAILURES_PER_ACCOUNT", "5", _whole_number)
    sign_in_failures_per_address: int = _setting("SIGN_IN_FAILURES_PER_ADDRESS", "20", _whole_number)
    sign_in_window_seconds: int = _setting("SIGN_IN_WINDOW_SECONDS", "900", _whole_number)
    # reverse proxies in front of the service that set X-Forwarded-For (0: clients connect directly)
    trusted_proxies: int = _setting("TRUSTED_PROXIES", "0", _whole_number)
    # an agent whose console sent no heartbeat this long is offline (routing gives them nothing)
    agent_presence_timeout_seconds: int = _setting("AGENT_PRESENCE_TIMEOUT_SECONDS", "60", _whole_number)
    # Redis for socket.io's message manager, so that a message emitted on any Rasa replica (an agent's
    # reply) reaches the customer's socket wherever it is; "" = in-process (one Rasa process)
    socketio_redis_url: str = _setting("SOCKETIO_REDIS_URL", "")
    # where the widget reaches Rasa's socket.io; "" = the page's host, RASA_PORT
    widget_socket_url: str = _setting("WIDGET_SOCKET_URL", "")
    # the training data, domain, config and held-out sets trainers work on
    bot_project_dir: str = _setting("BOT_PROJECT_DIR", str(PROJECT_ROOT))
    # the inbox shows messages understood with less confidence
    review_confidence_below: float = _setting("REVIEW_CONFIDENCE_BELOW", "0.5", _fraction)
    # share of every labelled batch that goes to the held-out set
    heldout_share: float = _setting("HELDOUT_SHARE", "0.25", _fraction)
    # a candidate may be at most this much less accurate overall ...
    release_tolerance_overall: float = _setting("RELEASE_TOLERANCE_OVERALL", "0.02", _fraction)
    # ... and at most this much on any label with enough examples
    release_tolerance_per_label: float = _setting("RELEASE_TOLERANCE_PER_LABEL", "0", _fraction)
    # labels with fewer held-out examples count only overall
    release_min_label_examples: int = _setting("RELEASE_MIN_LABEL_EXAMPLES", "3", _whole_number)
    # benchmarks only: the folder with the public data sets (bench/data/README.md); "" = none
    bench_data_dir: str = _setting("BENCH_DATA_DIR", "")
    # Rasa's conversation history as an SQLAlchemy URL (PostgreSQL when scaled out); "" = the SQLite
    # file at TRACKER_DB_PATH
    tracker_db_url: str = _setting("TRACKER_DB_URL", "")
    # every Rasa server a release loads its model into (space-separated base URLs); "" = the one at
    # RASA_HOST:RASA_PORT. `make demo-scaled` sets it for its own processes.
    rasa_replica_urls_text: str = _setting("RASA_REPLICA_URLS", "")
    # --- make demo-scaled: the services of a real deployment, and how many of each process ---
    # one PostgreSQL database for the tracker store, the CRM, the queue and the trainers' data
    scaled_database_url: str = _setting("SCALED_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/larkspur")
    # Redis for Rasa's lock store and socket.io's message manager
    scaled_redis_url: str = _setting("SCALED_REDIS_URL", "redis://127.0.0.1:6379/0")
    # RabbitMQ, Rasa's event broker (Pika); every tracker event goes to EVENT_BROKER_QUEUE
    scaled_rabbitmq_url: str = _setting("SCALED_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    event_broker_queue: str = _setting("EVENT_BROKER_QUEUE", "larkspur-events")
    # where the analytics read Rasa's events: "tracker_store" (make demo) or "event_broker" (the events the
    # analytics consumer stored from EVENT_BROKER_QUEUE; make demo-scaled sets it)
    analytics_events_from: str = _setting(
        "ANALYTICS_EVENTS_FROM", "tracker_store", _one_of("tracker_store", "event_broker")
    )
    # how long a replica's hold on a conversation lasts at most (Rasa's TICKET_LOCK_LIFETIME, 60 s by
    # default): a conversation whose turn was running on a replica that crashed waits this long; above
    # the 20 s an action call may take (rasa_plugins/action_calls.py) with room for its retries
    scaled_lock_lifetime_seconds: int = _setting("SCALED_LOCK_LIFETIME_SECONDS", "30", _whole_number)
    rasa_replicas: int = _setting("RASA_REPLICAS", "2", _whole_number)
    action_servers: int = _setting("ACTION_SERVERS", "1", _whole_number)
    service_processes: int = _setting("SERVICE_PROCESSES", "2", _whole_number)
    # the interface and first port of the processes behind the proxy (replica i of a kind listens on
    # a port of its own from here: docs/scaling.md)
    scaled_internal_host: str = _setting("SCALED_INTERNAL_HOST", "127.0.0.1")
    scaled_port_base: int = _setting("SCALED_PORT_BASE", "15000", _whole_number)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def tracker_store_url(self) -> str:
        """Where Rasa's tracker store is, as an SQLAlchemy URL (what reads the conversations uses)."""
        return self.tracker_db_url or f"sqlite:///{self.tracker_db_path}"

    @property
    def rasa_replica_urls(self) -> List[str]:
        """Every Rasa server that serves the bot (a release loads its model into each)."""
        return self.rasa_replica_urls_text.split() or [self.rasa_url]

    @property
    def action_server_url(self) -> str:
        host = "127.0.0.1" if self.action_server_host in ("0.0.0.0", "::") else self.action_server_host
        return f"http://{host}:{self.action_server_port}/webhook"


FIELDS = dataclasses.fields(Settings)
DEFAULTS: Dict[str, str] = {f.metadata["env"]: f.metadata["default"] for f in FIELDS if not f.metadata["secret"]}
SECRETS = tuple(f.metadata["env"] for f in FIELDS if f.metadata["secret"])
KEYS = frozenset(f.metadata["env"] for f in FIELDS)


def _merged(env: Optional[Mapping[str, str]], env_file: Optional[Path]) -> dict:
    values = dict(DEFAULTS)
    path = env_file if env_file is not None else DEFAULT_ENV_FILE
    if path.exists():
        values.update({k: v for k, v in dotenv_values(path).items() if v not in (None, "")})
    source = os.environ if env is None else env
    values.update({k: v for k, v in source.items() if k in KEYS and v != ""})
    return values


def setting(key: str, env_file: Optional[Path] = None) -> str:
    """One non-secret setting (environment, then `.env`, then default), for code that runs where
    the secrets may be absent, such as `rasa train`."""
    return _merged(None, env_file)[key]


def load_settings(env: Optional[Mapping[str, str]] = None, env_file: Optional[Path] = None) -> Settings:
    """Reads settings; `env` replaces `os.environ` (tests pass their own)."""
    values = _merged(env, env_file)
    missing = [key for key in SECRETS if not values.get(key)]
    if missing:
        raise MissingSetting(
            f"Missing setting(s) {', '.join(missing)}. Run `make env` to create .env with fresh "
            f"secrets, or set them in the environment."
        )
    return Settings(**{f.name: f.metadata["parse"](f.metadata["env"], values[f.metadata["env"]]) for f in FIELDS})


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_environment(settings: Settings) -> dict:
    """The settings as environment variables, for child processes (which then ignore `.env`)."""
    return {f.metadata["env"]: _as_text(getattr(settings, f.name)) for f in FIELDS}


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
        "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
        "DEMO_ACCOUNTS": "true",
        "DEMO_PAGE_ENABLED": "true",
        "ESCALATION_PORT": str(free_port()),
        "CUSTOMER_DB_URL": f"sqlite:///{directory / 'customers.db'}",
        "TRACKER_DB_PATH": str(directory / "tracker.db"),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return load_settings(env=env, env_file=directory / "no.env")
