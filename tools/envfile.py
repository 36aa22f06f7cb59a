"""Creates `.env` from `.env.example` on first run, with freshly generated secrets."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from common.settings import DEFAULT_ENV_FILE, PROJECT_ROOT, SECRETS

EXAMPLE_FILE = PROJECT_ROOT / ".env.example"
# Keys get 256 bits; the demo agents' password is typed by people, so it is shorter (96 bits).
SECRET_BYTES = {"DEMO_AGENT_PASSWORD": 12}


def fresh_secret(key: str) -> str:
    return secrets.token_urlsafe(SECRET_BYTES.get(key, 32))


def render_env(example_text: str) -> str:
    """Returns the example's text with every empty secret filled in."""
    lines = []
    for line in example_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in SECRETS and not value.strip():
            line = f"{key}={fresh_secret(key.strip())}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def missing_secrets(env_text: str) -> list:
    present = {}
    for line in env_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip().startswith("#"):
            present[key.strip()] = value.strip()
    return [key for key in SECRETS if not present.get(key)]


def ensure_env_file(target: Path = DEFAULT_ENV_FILE, example: Path = EXAMPLE_FILE) -> str:
    """Creates `target` if it is missing, or adds secrets that a newer version introduced.

    Returns what it did: "created", "added KEY, ..." or "" when nothing was needed."""
    if not target.exists():
        target.write_text(render_env(example.read_text()))
        target.chmod(0o600)
        return "created"
    text = target.read_text()
    missing = missing_secrets(text)
    if not missing:
        return ""
    additions = "".join(f"{key}={fresh_secret(key)}\n" for key in missing)
    target.write_text(text + ("" if text.endswith("\n") or not text else "\n") + additions)
    return "added " + ", ".join(missing)


if __name__ == "__main__":
    done = ensure_env_file()
    if done == "created":
        print(f"==> Created {DEFAULT_ENV_FILE.name} from .env.example with fresh secrets", file=sys.stderr)
    elif done:
        print(f"==> {DEFAULT_ENV_FILE.name}: {done} (new settings, freshly generated)", file=sys.stderr)
