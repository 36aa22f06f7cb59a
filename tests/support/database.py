"""A throwaway product database, made by the migrations as a real one is."""

from __future__ import annotations

from pathlib import Path

from common.database import Database, migrate


def migrated_database(path: Path) -> Database:
    url = f"sqlite:///{path}"
    migrate(url)
    return Database.from_url(url)
