"""Held-out NLU accuracy of the product's bot: tests/nlu/heldout.yml against the trained model.

A message counts as right when the bot would act on the right label: for help-centre questions the
FAQ topic the ResponseSelector picked (`faq/<topic>`), otherwise the intent. Target: FAQ >= 0.92.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from rasa.shared.nlu.training_data.loading import load_data

from bench.common import ModelParser, retrieval_key, write_report
from common.rasa_commands import latest_model, train
from common.settings import PROJECT_ROOT

HELDOUT_SETS = {
    "heldout_b.yml (clean: written before the last training-data change, first evaluated after it)": PROJECT_ROOT
    / "tests"
    / "nlu"
    / "heldout_b.yml",
    "heldout.yml (its misses were seen during development, see the note below)": PROJECT_ROOT
    / "tests"
    / "nlu"
    / "heldout.yml",
}
FAQ_TARGET = 0.92


def heldout_examples(path: Path) -> List[Tuple[str, str]]:
    data = load_data(str(path))
    return [(m.get("text"), m.get("intent_response_key") or m.get("intent")) for m in data.intent_examples]


def evaluate(parser: ModelParser, examples: List[Tuple[str, str]]) -> Dict:
    rows = []
    for text, gold in examples:
        parse = parser.parse(text)
        predicted = retrieval_key(parse)
        confidence = (parse.get("intent") or {}).get("confidence", 0.0)
        rows.append((text, gold, predicted, confidence))
    faq = [r for r in rows if r[1].startswith("faq/")]
    other = [r for r in rows if not r[1].startswith("faq/")]

    def accuracy(rs):
        return sum(r[1] == r[2] for r in rs) / len(rs) if rs else float("nan")

    return {
        "rows": rows,
        "faq_accuracy": accuracy(faq),
        "other_accuracy": accuracy(other),
        "overall_accuracy": accuracy(rows),
        "faq_count": len(faq),
        "other_count": len(other),
    }


def report(name: str, result: Dict) -> str:
    errors = [r for r in result["rows"] if r[1] != r[2]]
    confusions = collections.Counter((r[1], r[2]) for r in errors)
    lines = [
        f"## {name}",
        "",
        "| measure | value | examples | target |",
        "|---|---|---|---|",
        f"| FAQ topic accuracy (intent + ResponseSelector) | {result['faq_accuracy']:.3f} | "
        f"{result['faq_count']} | >= {FAQ_TARGET} {'met' if result['faq_accuracy'] >= FAQ_TARGET else 'MISSED'} |",
        f"| other intents accuracy | {result['other_accuracy']:.3f} | {result['other_count']} | |",
        f"| overall | {result['overall_accuracy']:.3f} | {len(result['rows'])} | |",
        "",
        f"Every miss ({len(errors)}):",
        "",
        "| text | expected | predicted | intent confidence |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t} | {g} | {p} | {c:.2f} |" for t, g, p, c in errors]
    if confusions:
        lines += [
            "",
            "Most frequent confusions: " + ", ".join(f"{g} → {p} ({n})" for (g, p), n in confusions.most_common(5)),
        ]
    return "\n".join(lines + [""])


HISTORY = """## How these numbers came about
heldout.yml was written together with the first training data and evaluated several times during
development (FAQ topic accuracy 0.891, then 0.909, 0.885 and 0.903 as the classifier and the fallback
threshold changed); its misses were read, so later training examples may have been influenced by
them, although none copies a test message (a unit test checks that no held-out message is in the
training data). heldout_b.yml was then written before the last extension of the training data and
first evaluated after it: it is the clean number (evaluated twice: after the data change, and after
the fallback threshold was recomputed for the new data by cross-validation, 0.12 to 0.14; FAQ topic
accuracy 0.929 both times). Settings were chosen by cross-validation on the
training data (bench/faq_cv.py, bench/fallback_threshold.py), never on these sets.
"""


def main() -> Dict:
    model = train() if "--no-train" not in sys.argv else latest_model()
    print(f"==> Held-out NLU test with {model.name}", flush=True)
    parser = ModelParser(model)
    results = {name: evaluate(parser, heldout_examples(path)) for name, path in HELDOUT_SETS.items()}
    body = "\n".join(report(name, result) for name, result in results.items()) + "\n" + HISTORY
    path = write_report("faq_heldout", "Held-out NLU accuracy of the support bot", body)
    for name, result in results.items():
        print(
            f"{name.split(' ')[0]}: FAQ topic accuracy {result['faq_accuracy']:.3f} ({result['faq_count']} "
            f"examples), other intents {result['other_accuracy']:.3f}"
        )
    print(f"Report: {path}")
    return results


if __name__ == "__main__":
    main()
