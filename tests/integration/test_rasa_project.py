"""Rasa's own checks of the project: data validation and the test stories."""

from __future__ import annotations

import subprocess
from pathlib import Path

from common.rasa_commands import RASA, cli_env
from common.settings import PROJECT_ROOT

# The one warning Rasa 3.6 always prints for this project (see training/release.py); any other fails.
from training.release import KNOWN_RASA_WARNING


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [RASA, "data", "validate", "--domain", "bot/domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if "UserWarning" in line and KNOWN_RASA_WARNING not in line]
    assert not warnings, output


def test_conversation_test_stories_pass(trained_model: Path, tmp_path: Path):
    result = subprocess.run(
        [
            RASA,
            "test",
            "core",
            "--model",
            str(trained_model),
            "--stories",
            "tests/stories",
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
            "--endpoints",
            str(tmp_path / "none.yml"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    failed = tmp_path / "failed_test_stories.yml"
    assert not failed.exists() or "None of the test stories failed" in failed.read_text(), failed.read_text()
