"""`make -s score-messages < messages.txt`: one customer message per line in, one JSON object per line
out, in the same order: {"text": ..., "score": <0..1>, "dissatisfied": <bool>}, from the detector the
escalation policy uses (escalation/detector.py). Trainers run it on exported messages; the benchmarks
use it too. Progress goes to stderr, so stdout stays one object per line.

By default the committed detector (GoEmotions only, as in a fresh clone); `MODEL=models/<file>.tar.gz`
(`--model`) scores with the detector a trained Rasa model carries, trainers' labels included.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, TextIO

from escalation.core.dissatisfaction import DissatisfactionModel
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


def detector_in_model(path: Path) -> DissatisfactionModel:
    """The dissatisfaction detector inside a trained Rasa model (its SentimentAnnotator's file)."""
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if re.search(r"SentimentAnnotator\d*/dissatisfaction_detector\.json$", member.name):
                handle = archive.extractfile(member)
                if handle:
                    return DissatisfactionModel.from_mapping(json.loads(handle.read()))
    raise SystemExit(f"{path} carries no dissatisfaction detector (trained before it could learn); leave MODEL out.")


def score_lines(lines: Iterable[str], out: TextIO, model: Optional[DissatisfactionModel] = None) -> int:
    count = 0
    for chunk in chunks(lines):
        for text, assessment in zip(chunk, assess(chunk, model=model)):
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="a trained Rasa model (.tar.gz) whose detector to use")
    args = parser.parse_args()
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]
    score_lines(sys.stdin, sys.stdout, detector_in_model(args.model) if args.model else None)
