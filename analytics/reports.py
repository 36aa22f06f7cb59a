"""What the analytics API answers, from the fact table (refreshed first, for what changed since the last
refresh): the summary by slice with the previous period, the conversations behind any number, one
conversation, CSV, the misunderstood messages and the what-if. Dates are local days of the rules' time
zone, both ends inclusive."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from analytics.facts import day_bounds, transcript
from analytics.metrics import CLOCKS, SLICES, fact_json, flat_row, metric_filter, summary_of
from analytics.refresh import Refresher
from analytics.store import AnalyticsStore
from analytics.whatif import Staff, replay
from escalation.core.rules import Rules, RulesError, parse_rules

DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_WHATIF_DAYS = 90
MAX_LIMIT = 200


class AnalyticsRequestError(ValueError):
    """A request the API answers with 400; `problems` lists each problem (invalid rules by place)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> "Period":
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def _day(value: Optional[str], name: str) -> Optional[date]:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AnalyticsRequestError(f"{name} must be a date as YYYY-MM-DD, got {value!r}.") from None


def period_of(first: Optional[str], last: Optional[str], today: date) -> Period:
    """The inclusive period asked for; by default the last DEFAULT_DAYS days up to today."""
    end = _day(last, "to") or today
    start = _day(first, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise AnalyticsRequestError("from must not be after to.")
    if (end - start).days + 1 > MAX_DAYS:
        raise AnalyticsRequestError(f"At most {MAX_DAYS} days at once.")
    return Period(start, end)


def slice_of(by: Optional[str]) -> str:
    by = by or "none"
    if by not in SLICES:
        raise AnalyticsRequestError(f"by must be one of {', '.join(SLICES)}.")
    return by


def rules_problems(text: str) -> Tuple[Optional[Rules], List[str]]:
    """Candidate rules from YAML text, or every problem the rules loader found (by place)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return None, [f"not valid YAML: {error}"]
    if not isinstance(data, dict):
        return None, ["the rules must be a YAML mapping"]
    try:
        return parse_rules(data), []
    except RulesError as error:
        lines = [line.strip()[2:] for line in str(error).splitlines() if line.strip().startswith("- ")]
        return None, lines or [str(error)]


class Analytics:
    def __init__(
        self,
        store: AnalyticsStore,
        refresher: Refresher,
        rules: Rules,
        rules_text: Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.refresher, self.rules, self.rules_text, self.clock = store, refresher, rules, rules_text, clock

    def today(self) -> date:
        return self.clock().astimezone(self.rules.timezone).date()

    def _tallies(self, period: Period, by: str):
        return self.store.tallies(*day_bounds(period.first, period.last, self.rules), by)

    def summary(self, first: Optional[str], last: Optional[str], by: Optional[str]) -> dict:
        period, by = period_of(first, last, self.today()), slice_of(by)
        self.refresher.refresh()
        total, groups = summary_of(self._tallies(period, by), by, period.first, period.last)
        before = period.previous()
        previous, _ = summary_of(self._tallies(before, "none"), "none", before.first, before.last)
        return {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "by": by,
            "total": total,
            "groups": groups,
            "previous": previous,  # the same days just before `from`: the headline change
        }

    def conversations(
        self,
        first: Optional[str],
        last: Optional[str],
        by: Optional[str],
        key: Optional[str],
        metric: Optional[str],
        limit: Optional[str] = None,
    ) -> dict:
        """The conversations behind one number, newest first; `count` is always all of them (the number on
        the summary), `limit` only shortens the list."""
        period, by = period_of(first, last, self.today()), slice_of(by)
        key, metric = key or "total", metric or "conversations"
        try:
            metric_filter(metric)
        except ValueError as error:
            raise AnalyticsRequestError(str(error)) from None
        shown = None if limit in (None, "") else _whole_number(limit, "limit", 1, None)
        self.refresher.refresh()
        count, found = self.store.drill_down(*day_bounds(period.first, period.last, self.rules), by, key, metric, shown)
        return {"count": count, "conversations": [fact_json(f) for f in found]}

    def conversation(self, conversation_id: str) -> Optional[dict]:
        self.refresher.refresh()
        fact = self.store.fact(conversation_id)
        if fact is None:
            return None
        events = self.refresher.events.of([conversation_id]).get(conversation_id, [])
        time_map = self.store.time_maps([conversation_id]).get(conversation_id)
        return {
            "conversation_id": conversation_id,
            "facts": fact_json(fact),
            "transcript": transcript(events, time_map),
        }

    def csv_name(self, first: Optional[str], last: Optional[str], by: Optional[str]) -> str:
        period, by = period_of(first, last, self.today()), slice_of(by)
        return f"analytics-{period.first.isoformat()}-{period.last.isoformat()}-{by}.csv"

    def summary_csv(self, first: Optional[str], last: Optional[str], by: Optional[str]) -> str:
        """One row per group, then the total: the summary's fields flattened."""
        summary = self.summary(first, last, by)
        rows = summary["groups"] + [summary["total"]]
        codes = sorted({code for row in rows for code in row["handoff_reasons"]})
        flat = [flat_row(row, codes) for row in rows]
        return _csv(list(flat[0]), flat)

    def conversations_csv(
        self, first: Optional[str], last: Optional[str], by: Optional[str], key: Optional[str], metric: Optional[str]
    ) -> str:
        """The drill-down list, one row per conversation."""
        listed = self.conversations(first, last, by, key, metric)["conversations"]
        header = (
            [
                "conversation_id",
                "started_at",
                "tier",
                "journey_stage",
                "queue",
                "satisfaction",
                "channel",
                "contained",
                "handoff_id",
                "handoff_reasons",
                "first_response_s",
                "resolution_s",
            ]
            + [f"sla.{clock}" for clock in CLOCKS]
            + ["abandoned", "csat", "seeded"]
        )
        rows = []
        for item in listed:
            row = {k: item[k] for k in header if k in item}
            row["handoff_reasons"] = " ".join(item["handoff_reasons"])
            row.update({f"sla.{clock}": item["sla"][clock] for clock in CLOCKS})
            rows.append(row)
        return _csv(header, rows)

    def misunderstood(self, first: Optional[str], last: Optional[str], limit: Optional[str]) -> dict:
        period = period_of(first, last, self.today())
        count = _whole_number(limit or "20", "limit", 1, MAX_LIMIT)
        self.refresher.refresh()
        return {"messages": self.store.misunderstood(*day_bounds(period.first, period.last, self.rules), count)}

    def whatif(self, body: Optional[dict], staff: Sequence[Staff], handle_seconds: Dict[str, float]) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("rules_yaml"), str):
            raise AnalyticsRequestError('Send {"rules_yaml": "<the candidate rules>", "days": 7}.')
        days = body.get("days", DEFAULT_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_WHATIF_DAYS:
            raise AnalyticsRequestError(f"days must be a whole number from 1 to {MAX_WHATIF_DAYS}.")
        candidate, problems = rules_problems(body["rules_yaml"])
        if candidate is None:
            raise AnalyticsRequestError("The candidate rules are invalid.", problems)
        self.refresher.refresh()
        period = Period(self.today() - timedelta(days=days - 1), self.today())
        conversations = self.store.decision_inputs(*day_bounds(period.first, period.last, self.rules))
        result = replay(conversations, self.rules, candidate, staff, handle_seconds)
        return {"from": period.first.isoformat(), "to": period.last.isoformat(), "days": days, **result}


def _whole_number(text: str, name: str, least: int, most: Optional[int]) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AnalyticsRequestError(f"{name} must be a whole number.") from None
    if value < least or (most is not None and value > most):
        raise AnalyticsRequestError(
            f"{name} must be {least} to {most}." if most else f"{name} must be at least {least}."
        )
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (conversation ids are partly chosen by the
    client) gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(header: List[str], rows: List[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else spreadsheet_safe(v) for k, v in row.items()})
    return out.getvalue()
