"""The trainers' command line: the same inbox, labelling and release as the trainers' page.

  python -m training inbox                       what the bot handled poorly, grouped
  python -m training label --kind faq --name shipping_cost "text" ["text" ...]
  python -m training label --kind new_faq --name gift_wrapping --answer "..." "text" ...
  python -m training label --kind intent --name request_human "text" ...
  python -m training label --kind out_of_scope "text" ...
  python -m training feeling --label dissatisfied|not_dissatisfied "text" ...   train the detector
  python -m training release [--no-load]         train a candidate, gate it, load it live if it passes
  python -m training rollback                    load the model that was live before the last release
(`make inbox`, `make release` and `make rollback` run these with the project's settings.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.conversation_log import ConversationLog
from common.database import Database, migrate
from common.settings import load_settings
from escalation.queue.handoffs import HandoffQueue
from training.dissatisfaction_labels import LABELS, DissatisfactionLabeller
from training.inbox import inbox_from_stores
from training.labels import KINDS, LabelError, Labeller
from training.project import BotProject
from training.store import ReviewStore


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inbox = commands.add_parser("inbox", help="messages the bot handled poorly, grouped")
    inbox.add_argument("--json", action="store_true", help="print JSON instead of a list")
    label = commands.add_parser("label", help="put messages under an intent, an FAQ topic or out of scope")
    label.add_argument("--kind", choices=KINDS, required=True)
    label.add_argument("--name", help="the intent or FAQ topic")
    label.add_argument("--answer", help="the answer of a new FAQ topic")
    label.add_argument("--trainer", default="cli")
    label.add_argument("texts", nargs="+")
    feeling = commands.add_parser("feeling", help="mark customer messages dissatisfied or not (the detector's data)")
    feeling.add_argument("--label", choices=LABELS, required=True)
    feeling.add_argument("--trainer", default="cli")
    feeling.add_argument("texts", nargs="+")
    release = commands.add_parser("release", help="train a candidate, gate it, load it if it passes")
    release.add_argument("--no-load", action="store_true")
    commands.add_parser("rollback", help="load the previous live model")
    args = parser.parse_args(argv)

    if args.command in ("release", "rollback"):
        from training import release as release_module

        return release_module.main(
            ["--rollback"] if args.command == "rollback" else (["--no-load"] if args.no_load else [])
        )
    settings = load_settings()
    migrate(settings.customer_db_url)
    database = Database.from_url(settings.customer_db_url)
    project, reviews = BotProject(Path(settings.bot_project_dir)), ReviewStore(database)
    if args.command == "inbox":
        groups = inbox_from_stores(
            ConversationLog.for_tracker_store(settings.tracker_store_url),
            HandoffQueue(database),
            reviews,
            ReviewStore.of_dissatisfaction(database),
            project,
            settings.review_confidence_below,
        )
        if args.json:
            print(json.dumps([g.as_json() for g in groups], indent=2))
            return 0
        if not groups:
            print("The inbox is empty: nothing the bot handled poorly that nobody has reviewed.")
        for g in groups:
            guess = f" (best guess {g.best_guess})" if g.best_guess else ""
            print(
                f"{g.count:>3} x {g.text!r}: {g.predicted}{guess}, confidence {g.mean_confidence:.2f}; "
                f"{', '.join(g.reasons)}"
            )
            for wording in g.wordings[1:]:
                print(f"        also {wording['text']!r} x{wording['count']}")
        return 0
    try:
        if args.command == "feeling":
            feelings = ReviewStore.of_dissatisfaction(database)
            result = DissatisfactionLabeller(project, feelings, settings.heldout_share).label(
                args.texts, args.label, args.trainer
            )
        else:
            result = Labeller(project, reviews, settings.heldout_share).label(
                args.texts, args.kind, args.name, args.answer, args.trainer
            )
    except LabelError as problem:
        print(f"Not labelled: {problem}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
