"""Sentiment and dissatisfaction benchmark for escalation/core/sentiment.py.

1. 3-class sentiment (negative / neutral / positive, +-0.05) on each VADER ground-truth corpus
   (Hutto & Gilbert 2014), for plain VADER and for this project's support-adjusted score, next to
   the published VADER F1. Gold labels: the mean human rating thresholded at +-0.05 (SOURCE.md).
2. Precision and recall of "dissatisfied" on bench/data/support_dissatisfaction.csv, a set the
   project wrote before the detector and did not tune on.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Tuple

from sklearn.metrics import f1_score, precision_recall_fscore_support

from bench.common import REPORTS_DIR, grouped_bar_chart, public_data, write_report
from escalation.core.sentiment import DISSATISFIED_AT, NEUTRAL_BAND, score_message, vader_compound

CORPORA = {
    "tweets": ("tweets_GroundTruth.txt", 0.96),
    "movie reviews": ("movieReviewSnippets_GroundTruth.txt", 0.61),
    "Amazon reviews": ("amazonReviewSnippets_GroundTruth.txt", 0.63),
    "NYT editorials": ("nytEditorialSnippets_GroundTruth.txt", 0.55),
}
SUPPORT_SET = Path(__file__).resolve().parent / "data" / "support_dissatisfaction.csv"


def three_class(score: float) -> str:
    if score > NEUTRAL_BAND:
        return "positive"
    if score < -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def read_corpus(path: Path) -> List[Tuple[str, float]]:
    rows = []
    for line in path.read_text(encoding="latin-1").lstrip("\ufeff\xef\xbb\xbf").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            rows.append((parts[2], float(parts[1])))
    return rows


def corpus_scores(rows: List[Tuple[str, float]]) -> Dict[str, float]:
    gold = [three_class(rating) for _, rating in rows]
    plain = [three_class(vader_compound(text)) for text, _ in rows]
    adjusted = [score_message(text).label for text, _ in rows]
    return {
        "vader_macro": f1_score(gold, plain, average="macro"),
        "vader_weighted": f1_score(gold, plain, average="weighted"),
        "ours_macro": f1_score(gold, adjusted, average="macro"),
        "ours_weighted": f1_score(gold, adjusted, average="weighted"),
    }


def dissatisfaction_scores() -> Dict[str, Tuple[float, float, float]]:
    with SUPPORT_SET.open() as handle:
        rows = [(r["text"], r["label"] == "dissatisfied") for r in csv.DictReader(handle)]
    gold = [label for _, label in rows]
    plain = [vader_compound(text) <= DISSATISFIED_AT for text, _ in rows]
    ours = [score_message(text).dissatisfied for text, _ in rows]
    result = {}
    for name, predicted in (("plain VADER", plain), ("support-adjusted", ours)):
        p, r, f, _ = precision_recall_fscore_support(gold, predicted, average="binary", pos_label=True)
        result[name] = (p, r, f)
    result["_misses"] = [(t, g) for (t, g), o in zip(rows, ours) if g != o]
    result["_count"] = (len(rows), sum(gold))
    return result


def main() -> None:
    lines = [
        "## 3-class sentiment on the VADER ground-truth corpora",
        "",
        "| corpus | texts | published VADER F1 | VADER macro F1 | VADER weighted F1 | adjusted macro F1 | "
        "adjusted weighted F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    chart_rows = []
    for name, (filename, published) in CORPORA.items():
        rows = read_corpus(public_data(f"vader_ground_truth/{filename}"))
        print(f"==> {name}: {len(rows)} texts", flush=True)
        s = corpus_scores(rows)
        lines.append(
            f"| {name} | {len(rows)} | {published:.2f} | {s['vader_macro']:.3f} | {s['vader_weighted']:.3f} | "
            f"{s['ours_macro']:.3f} | {s['ours_weighted']:.3f} |"
        )
        chart_rows.append((name, published, s["vader_weighted"], s["ours_weighted"]))
    lines += [
        "",
        "The paper's F1 is over all three classes; it does not say how classes are averaged, so both "
        "macro and support-weighted averages are shown. The published numbers are for the 2014 engine "
        "(SOURCE.md: the current vaderSentiment release differs). The support adjustments are meant "
        "for customer messages, not for reviews or editorials; these corpora show what they cost there.",
        "",
    ]
    d = dissatisfaction_scores()
    total, positives = d["_count"]
    lines += [
        "## Dissatisfaction in support messages",
        "",
        f"bench/data/support_dissatisfaction.csv: {total} messages, {positives} labelled dissatisfied "
        f"(written before the detector, not used to tune it). Dissatisfied = score <= {DISSATISFIED_AT}.",
        "",
        "| detector | precision | recall | F1 |",
        "|---|---|---|---|",
    ]
    for name in ("plain VADER", "support-adjusted"):
        p, r, f = d[name]
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} |")
    lines += [
        "",
        f"Every miss of the support-adjusted detector ({len(d['_misses'])}):",
        "",
        "| message | labelled |",
        "|---|---|",
    ]
    lines += [f"| {text} | {'dissatisfied' if gold else 'not dissatisfied'} |" for text, gold in d["_misses"]]
    lines += ["", "![sentiment](sentiment.png)"]
    REPORTS_DIR.mkdir(exist_ok=True)
    grouped_bar_chart(
        [r[0] for r in chart_rows],
        [
            ("published VADER F1", [r[1] for r in chart_rows]),
            ("VADER (this run)", [r[2] for r in chart_rows]),
            ("support-adjusted", [r[3] for r in chart_rows]),
        ],
        "3-class sentiment, weighted F1, VADER ground-truth corpora",
        1,
        REPORTS_DIR / "sentiment.png",
    )
    path = write_report("sentiment", "Sentiment and dissatisfaction detection", "\n".join(lines))
    print("\n".join(lines[:12]))
    print(f"Report: {path}")


if __name__ == "__main__":
    main()
