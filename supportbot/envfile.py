"""Creates `.env` from `.env.example` on first run, with freshly generated secrets."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

from supportbot.settings import DEFAULT_ENV_FILE, PROJECT_ROOT, SECRETS

EXAMPLE_FILE = PROJECT_ROOT / ".env.example"


def render_env(example_text: str) -> str:
    """Returns the example's text with every empty secret filled in."""
    lines = []
    for line in example_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in SECRETS and not value.strip():
            line = f"{key}={secrets.token_urlsafe(32)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def ensure_env_file(target: Path = DEFAULT_ENV_FILE, example: Path = EXAMPLE_FILE) -> bool:
    """Creates `target` if it is missing; returns True when it did."""
    if target.exists():
        return False
    target.write_text(render_env(example.read_text()))
    target.chmod(0o600)
    return True


if __name__ == "__main__":
    if ensure_env_file():
        print(f"==> Created {DEFAULT_ENV_FILE.name} from .env.example with fresh secrets", file=sys.stderr)
