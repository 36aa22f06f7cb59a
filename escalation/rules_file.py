"""The business's rules file (escalation/rules.yml by default; ESCALATION_RULES_FILE in settings): read,
parsed and validated once by each process that decides. The rules themselves are plain data in
escalation/core/rules.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from escalation.core.rules import Rules, RulesError, parse_rules, round_the_clock

SHIPPED_RULES_FILE = Path(__file__).resolve().parent / "rules.yml"


def read_rules_mapping(path: Path) -> Dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise RulesError(f"Cannot read escalation rules from {path}: {error}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path} must contain a YAML mapping")
    return data


def load_rules(path: Path) -> Rules:
    """The rules in `path`; RulesError saying every problem when they are invalid."""
    return parse_rules(read_rules_mapping(path))


def write_round_the_clock_copy(target: Path, source: Path = SHIPPED_RULES_FILE, routing: Optional[str] = None) -> Path:
    """A copy of the rules with agents working 24/7, for tests and benchmarks whose results must not
    depend on the hour they run at; with `routing` (push or pull), every queue routed that way."""
    data = round_the_clock(read_rules_mapping(source))
    if routing is not None:
        data.setdefault("routing", {})["modes"] = {queue: routing for queue in data["queues"]}
    target.write_text(yaml.safe_dump(data))
    return target
