"""Rasa's own commands, typed as a Rasa user types them at the project root (the virtual environment's
`rasa` on PATH, no PYTHONPATH, no arguments that name the project's files): data validation, training,
the conversation test stories, and the shell (`make shell`, which resolves settings from .env)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.settings import PROJECT_ROOT, free_port

# The one warning Rasa 3.6 always prints for this project (see training/release.py); any other fails.
from training.release import KNOWN_RASA_WARNING

VENV_BIN = Path(sys.executable).parent


def as_typed(command: str, **kwargs) -> subprocess.CompletedProcess:
    """`command` run by a shell at the project root, as a user with the virtual environment activated."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(VENV_BIN.parent),
        TF_CPP_MIN_LOG_LEVEL="2",
        RASA_TELEMETRY_ENABLED="false",
        **kwargs.pop("env", {}),
    )
    return subprocess.run(command, shell=True, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env, **kwargs)


def test_rasa_data_validate_as_typed_is_clean():
    result = as_typed("rasa data validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "bot/domain.yml" in os.readlink(PROJECT_ROOT / "domain.yml")  # the project's domain, found by Rasa
    warnings = [line for line in output.splitlines() if "UserWarning" in line and KNOWN_RASA_WARNING not in line]
    assert not warnings, output


def test_rasa_train_as_typed_builds_the_model_the_product_runs(trained_model: Path):
    # trained_model comes from `rasa train` at the root (make train, make demo); asked again, Rasa finds
    # the project's domain, config and data unchanged: nothing to train.
    result = as_typed("rasa train --dry-run")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "No training of components required" in result.stdout + result.stderr


def test_conversation_test_stories_pass(trained_model: Path, tmp_path: Path):
    result = as_typed(f"rasa test core --stories tests/stories --out {tmp_path} --fail-on-prediction-errors")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    failed = tmp_path / "failed_test_stories.yml"
    assert not failed.exists() or "None of the test stories failed" in failed.read_text(), failed.read_text()


def test_make_shell_answers_with_the_projects_actions(trained_model: Path, tmp_path: Path):
    # Settings from the environment win over .env: the shell and its action server use throwaway
    # databases and free ports, as a user's `make shell` would use theirs.
    env = {
        "CUSTOMER_DB_URL": f"sqlite:///{tmp_path / 'customers.db'}",
        "TRACKER_DB_PATH": str(tmp_path / "t.db"),
        "ACTION_SERVER_PORT": str(free_port()),
    }
    result = as_typed(
        f"make -s shell ARGS='--port {free_port()}'",
        env=env,
        timeout=240,
        input="how long does delivery take?\nI want to talk to a person\n/stop\n",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Standard delivery takes" in output  # an FAQ answer (the project's channels and NLU)
    assert "I'm passing you to our" in output or "opened a ticket" in output or "booked a phone callback" in output
