"""Dissatisfaction detection: the embedding detector (escalation/detector.py, trained on GoEmotions train)
next to plain VADER and the lexicon detector it replaces (VADER + support cues), on data it was never
trained or tuned on:

1. GoEmotions' test split (5,427 Reddit comments; BENCH_DATA_DIR/goemotions/test.tsv), "dissatisfied"
   mapped exactly as in training (training/dissatisfaction.py): in domain for the detector.
2. VADER's ground-truth corpora (tweets, movie reviews, Amazon reviews, NYT editorials): negative (mean
   human rating below -0.05, the corpora's own convention) vs the rest. Out of domain: these are
   opinions, not customers talking to support.
3. The team's own 313 support messages (bench/data/support_dissatisfaction.csv): written by the team, so
   not evidence of how the product does on real customers; shown because it is the only support-chat set.

Plain VADER and the lexicon detector say "dissatisfied" at a score of -0.25 or below (DISSATISFIED_AT);
the embedding model at its threshold, chosen on GoEmotions dev; the combination the product uses
(escalation/core/dissatisfaction.py) when either does. Also: the cost per message of each.
"""

from __future__ import annotations

import csv
import time
from typing import Callable, Dict, List, Sequence, Tuple

from sklearn.metrics import precision_recall_fscore_support

from bench.common import REPORTS_DIR, grouped_bar_chart, public_data, write_report
from bench.sentiment import CORPORA, SUPPORT_SET, read_corpus
from escalation.core.sentiment import DISSATISFIED_AT, score_message, vader_compound
from escalation.detector import assess, shared_model
from training.dissatisfaction import DISSATISFIED_EMOTIONS

Labelled = List[Tuple[str, bool]]
DETECTORS: Dict[str, Callable[[Sequence[str]], List[bool]]] = {
    "plain VADER": lambda texts: [vader_compound(t) <= DISSATISFIED_AT for t in texts],
    "lexicon (VADER + cues, before)": lambda texts: [score_message(t).dissatisfied for t in texts],
    "embedding model alone": lambda texts: [a.model_probability >= shared_model().threshold for a in assess(texts)],
    "combined (now, used by the policy)": lambda texts: [a.dissatisfied for a in assess(texts)],
}


def goemotions_test() -> Labelled:
    folder = public_data("goemotions")
    names = (folder / "emotions.txt").read_text().split()
    wanted = {names.index(e) for e in DISSATISFIED_EMOTIONS}
    rows = []
    for line in (folder / "test.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        rows.append((text, any(int(i) in wanted for i in ids.split(","))))
    return rows


def vader_negative(filename: str) -> Labelled:
    return [(text, rating < -0.05) for text, rating in read_corpus(public_data(f"vader_ground_truth/{filename}"))]


def support_messages() -> Labelled:
    with SUPPORT_SET.open() as handle:
        return [(row["text"], row["label"] == "dissatisfied") for row in csv.DictReader(handle)]


def scores(rows: Labelled) -> Dict[str, Tuple[float, float, float]]:
    texts, gold = [t for t, _ in rows], [g for _, g in rows]
    found = {}
    for name, detect in DETECTORS.items():
        p, r, f, _ = precision_recall_fscore_support(gold, detect(texts), average="binary", zero_division=0)
        found[name] = (p, r, f)
    return found


def cost_per_message(texts: Sequence[str]) -> Dict[str, float]:
    """Milliseconds per message, each text seen once (no cache), one message at a time as in a turn."""
    costs = {}
    for name, detect in DETECTORS.items():
        started = time.perf_counter()
        for index, text in enumerate(texts):
            detect([f"{text} #{name[:3]}{index}"])  # never a cache hit, not even of another detector's text
        costs[name] = (time.perf_counter() - started) / len(texts) * 1000
    return costs


def main() -> Dict[str, Dict[str, Tuple[float, float, float]]]:
    sets: Dict[str, Labelled] = {"GoEmotions test (in domain)": goemotions_test()}
    for name, (filename, _published) in CORPORA.items():
        sets[f"VADER {name}: negative (out of domain)"] = vader_negative(filename)
    sets["team's own support messages (written by us)"] = support_messages()
    results = {}
    for name, rows in sets.items():
        print(f"==> {name}: {len(rows)} texts", flush=True)
        results[name] = scores(rows)
    costs = cost_per_message([t for t, _ in sets["GoEmotions test (in domain)"][:300]])
    model = shared_model()
    lines = [
        __doc__.split("\n\n", 1)[1].strip(),
        "",
        f"Embedding model: threshold {model.threshold}; trained on {model.about.get('trained_on')}; "
        f"on GoEmotions dev {model.about.get('on_dev')}.",
        "",
        "| data | texts | dissatisfied | " + " | ".join(f"{d} P / R / F1" for d in DETECTORS) + " |",
        "|---|---|---|" + "---|" * len(DETECTORS),
    ]
    for name, rows in sets.items():
        cells = [f"{p:.2f} / {r:.2f} / **{f:.2f}**" for p, r, f in results[name].values()]
        lines.append(f"| {name} | {len(rows)} | {sum(g for _, g in rows)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cost per message (one at a time, 300 GoEmotions test comments, no cache): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in costs.items())
        + ".",
        "",
        "![F1 by data set](dissatisfaction.png)",
    ]
    grouped_bar_chart(
        [short(name) for name in sets],
        [(d, [results[s][d][2] for s in sets]) for d in DETECTORS],
        "F1 of 'dissatisfied' (no training or tuning on any of these)",
        1.0,
        REPORTS_DIR / "dissatisfaction.png",
    )
    body = "\n".join(lines)
    write_report("dissatisfaction", "Dissatisfaction detection", body)
    print(body)
    return results


def short(name: str) -> str:
    return name.split(" (")[0].split(":")[0].replace("VADER ", "")


if __name__ == "__main__":
    main()
