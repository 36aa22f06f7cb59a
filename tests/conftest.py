"""Shared fixtures: settings of a throwaway system with its own secrets, ports and databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import Settings, throwaway_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return throwaway_settings(tmp_path)
