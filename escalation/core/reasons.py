"""A reason for a decision: a stable code (common.names.ReasonCode) next to words an agent understands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Tuple

from common.names import ReasonCode


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    text: str

    def as_json(self) -> Dict[str, str]:
        return {"code": self.code.value, "text": self.text}


def codes(reasons: Iterable[Reason]) -> Tuple[ReasonCode, ...]:
    return tuple(reason.code for reason in reasons)
