"""Creates `.env` from `.env.example` on first run with freshly generated secrets, and fills in secrets
that are missing later (a newer version added one, or a value was emptied).

`.env` is read and written with python-dotenv only, the same reader the settings use, so "missing"
means the same thing here and there: not set in the environment and empty or absent in `.env`. A
secret the environment provides is never written to `.env`, so it cannot shadow the exported value.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import List, Mapping, Optional

from dotenv import dotenv_values, set_key

from common.settings import DEFAULT_ENV_FILE, PROJECT_ROOT, SECRETS

EXAMPLE_FILE = PROJECT_ROOT / ".env.example"
# Keys get 256 bits; the demo agents' password is typed by people, so it is shorter (96 bits).
SECRET_BYTES = {"DEMO_AGENT_PASSWORD": 12}


def fresh_secret(key: str) -> str:
    return secrets.token_urlsafe(SECRET_BYTES.get(key, 32))


def missing_secrets(env_file: Path, environ: Mapping[str, str]) -> List[str]:
    """Secrets set neither in the environment nor (non-empty) in `env_file`."""
    values = dotenv_values(env_file) if env_file.exists() else {}
    return [key for key in SECRETS if not (environ.get(key) or values.get(key))]


def ensure_env_file(
    target: Path = DEFAULT_ENV_FILE, example: Path = EXAMPLE_FILE, environ: Optional[Mapping[str, str]] = None
) -> str:
    """Creates `target` from `example` if it is missing, then fills in the missing secrets in place.

    Returns what it did: "created", "added KEY, ..." or "" when nothing was needed."""
    environ = os.environ if environ is None else environ
    created = not target.exists()
    if created:
        shutil.copyfile(example, target)
        target.chmod(0o600)
    missing = missing_secrets(target, environ)
    for key in missing:
        set_key(str(target), key, fresh_secret(key), quote_mode="never")
    if created:
        return "created"
    return "added " + ", ".join(missing) if missing else ""


if __name__ == "__main__":
    done = ensure_env_file()
    if done == "created":
        print(f"==> Created {DEFAULT_ENV_FILE.name} from .env.example with fresh secrets", file=sys.stderr)
    elif done:
        print(f"==> {DEFAULT_ENV_FILE.name}: {done} (freshly generated)", file=sys.stderr)
