"""The layout's rules, read from the code's imports: the decision core and the metric definitions do no
I/O, escalation/ never depends on training/ or analytics/, and no product code imports the tooling
(launcher, seeding, test clients)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("common", "escalation", "rasa_plugins", "actions", "training", "analytics", "service")
# What the pure core may not import: I/O, web, Rasa, file formats, settings.
NOT_IN_CORE = (
    "sqlalchemy",
    "requests",
    "sanic",
    "rasa",
    "rasa_sdk",
    "yaml",
    "dotenv",
    "common.settings",
    "common.database",
    "common.crm",
    "common.rasa_api",
    "common.conversation_log",
    "escalation.queue",
    "escalation.web",
    "escalation.rules_file",
    "training",
    "tools",
    "os",
    "subprocess",
    "socket",
)


def imported_modules(path: Path) -> Set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def starts_with_any(module: str, prefixes) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


@pytest.mark.parametrize("path", list(python_files("escalation/core")), ids=lambda p: p.name)
def test_the_decision_core_imports_nothing_that_does_io(path):
    assert not {m for m in imported_modules(path) if starts_with_any(m, NOT_IN_CORE)}


def test_escalation_never_imports_training_or_analytics():
    offenders = {
        str(p.relative_to(ROOT))
        for p in python_files("escalation")
        if any(starts_with_any(m, ("training", "analytics")) for m in imported_modules(p))
    }
    assert not offenders


# Pure like the core: the definitions, the facts of one conversation and the what-if replay.
PURE_ANALYTICS = ("metrics.py", "whatif.py")


@pytest.mark.parametrize("name", PURE_ANALYTICS)
def test_the_metric_definitions_and_the_replay_do_no_io(name):
    assert not {m for m in imported_modules(ROOT / "analytics" / name) if starts_with_any(m, NOT_IN_CORE)}


def test_no_product_module_imports_the_tooling():
    offenders = {
        str(p.relative_to(ROOT))
        for p in python_files(*PRODUCT)
        if any(starts_with_any(m, ("tools", "tests", "bench")) for m in imported_modules(p))
    }
    assert not offenders


def test_nothing_imports_the_actions_but_the_action_server():
    offenders = {
        str(p.relative_to(ROOT))
        for p in python_files("common", "escalation", "rasa_plugins", "training", "analytics", "service", "tools")
        if any(starts_with_any(m, ("actions",)) for m in imported_modules(p))
    }
    assert not offenders
