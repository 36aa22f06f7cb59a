"""Fixtures the fast layer's test modules share."""

import shutil
from pathlib import Path

import pytest

from training.project import BotProject

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> BotProject:
    """A copy of the bot project's data, domain and held-out sets: labelling edits it."""
    for part in ("data", "bot", "tests/nlu"):
        shutil.copytree(ROOT / part, tmp_path / part)
    return BotProject(tmp_path)
