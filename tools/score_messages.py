"""`make -s score-messages < messages.txt`: one customer message per line in, one JSON object per line
out, in the same order: {"text": ..., "score": <0..1>, "dissatisfied": <bool>}, from the detector the
escalation policy uses (escalation/detector.py). Trainers run it on exported messages; the benchmarks
use it too. Progress goes to stderr, so stdout stays one object per line.
"""

from __future__ import annotations

import json
import sys
from typing import Iterable, Iterator, List, TextIO

from escalation.detector import assess

CHUNK = 256


def chunks(lines: Iterable[str], size: int = CHUNK) -> Iterator[List[str]]:
    chunk: List[str] = []
    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_lines(lines: Iterable[str], out: TextIO) -> int:
    count = 0
    for chunk in chunks(lines):
        for text, assessment in zip(chunk, assess(chunk)):
            out.write(
                json.dumps(
                    {"text": text, "score": round(assessment.score, 4), "dissatisfied": assessment.dissatisfied},
                    ensure_ascii=False,
                )
                + "\n"
            )
        count += len(chunk)
        if count >= CHUNK * 4 and sys.stderr.isatty():
            print(f"\r==> {count} messages scored", end="", file=sys.stderr)
    return count


if __name__ == "__main__":
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]
    score_lines(sys.stdin, sys.stdout)
