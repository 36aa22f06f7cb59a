"""Shared fixtures: test settings with their own secrets, ports and temporary databases."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from supportbot.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(tmp: Path, **overrides) -> Settings:
    env = {
        "CUSTOMER_TOKEN_SECRET": "test-secret-" + "x" * 32,
        "RASA_TOKEN": "test-rasa-token",
        "CUSTOMER_DB_URL": f"sqlite:///{tmp / 'customers.db'}",
        "TRACKER_DB_PATH": str(tmp / "tracker.db"),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
        "SEED_CUSTOMER_COUNT": "240",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    # An empty env file path: tests never read the developer's .env.
    return load_settings(env=env, env_file=tmp / "no.env")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)
