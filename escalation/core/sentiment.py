"""Sentiment of customer messages and a conversation-level frustration signal. Pure functions.

Message sentiment starts from VADER (vaderSentiment), a lexicon built for social-media text, and
adjusts it for support language VADER does not read as negative: waiting and failure ("still not
arrived"), repetition ("third time I ask"), threats to leave, profanity and insults, all caps,
repeated "!!!"/"???". Cue weights were set from these descriptions before the labelled benchmark
set was scored, and are not fitted to it (bench/sentiment.py measures them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from common.names import FALLBACK_INTENTS, FRESH_START_EVENTS, Intent

NEUTRAL_BAND = 0.05  # VADER's own convention: |compound| < 0.05 is neutral
DISSATISFIED_AT = -0.25  # adjusted compound at or below this counts as dissatisfied


@dataclass(frozen=True)
class Cue:
    name: str
    pattern: "re.Pattern[str]"
    weight: float  # subtracted from the compound score


def _cue(name: str, pattern: str, weight: float) -> Cue:
    return Cue(name, re.compile(pattern, re.IGNORECASE), weight)


SUPPORT_CUES: Tuple[Cue, ...] = (
    _cue(
        "repeated asking",
        r"\b(second|third|fourth|fifth|\d+(st|nd|rd|th)?) time\b|\bagain and again\b|\b(once|yet) again\b"
        r"|\basked (again|before|\w+ times)\b|\bexplained this\b|\bwriting for the\b|\bseriously\?",
        0.35,
    ),
    _cue(
        "still waiting or broken",
        r"\bstill (not|no|nothing|hasn'?t|haven'?t|isn'?t|doesn'?t|waiting|broken)\b"
        r"|\bnever (arrived|came|received|showed|answered|called)\b|\bnot (arrived|received|working|fixed)\b"
        r"|\b(days|weeks|a month|an hour) (and|later|now)\b|\bno (reply|answer|response|help)\b"
        r"|\b(nobody|no one)\b|\bignor(ed|ing)\b|\btaking (forever|too long|ages)\b|\bcame and went\b",
        0.3,
    ),
    _cue(
        "threat to leave",
        r"\bcancel(l?ing)? (everything|my (membership|subscription|account|plan))\b"
        r"|\b(switch|switching|moving|going|leaving) (to|for) (another|a competitor)\b|\bi'?m (leaving|done)\b"
        r"|\bnever (order|ordering|buy|buying|shop|shopping)\b|\blost (a|my|your) (customer|business)\b"
        r"|\bbad review\b|\breport you\b|\bconsumer protection\b|\blast time i order\b",
        0.3,
    ),
    _cue(
        "profanity or insult",
        r"\b(damn|hell|crap|shit|fuck\w*|wtf|bloody|rubbish|garbage|useless|pathetic|joke|scam"
        r"|incompetent|shambles|disgrace|nightmare|ridiculous|outrageous|unacceptable|hopeless)\b",
        0.35,
    ),
)
ALL_CAPS_WEIGHT = 0.25
REPEATED_PUNCTUATION = re.compile(r"(!{2,}|\?{2,}|\?!|!\?)")
REPEATED_PUNCTUATION_WEIGHT = 0.15


@dataclass(frozen=True)
class MessageSentiment:
    compound: float  # adjusted score, -1 (very negative) .. 1 (very positive)
    vader_compound: float  # VADER's own score, for comparison
    cues: Tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return sentiment_label(self.compound)

    @property
    def dissatisfied(self) -> bool:
        return self.compound <= DISSATISFIED_AT


def sentiment_label(compound: float) -> str:
    """positive, negative or neutral, by VADER's own convention (|compound| < NEUTRAL_BAND is neutral)."""
    if compound >= NEUTRAL_BAND:
        return "positive"
    if compound <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def _shouting(text: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z]{3,}", text)]
    if len(words) < 2:
        return False
    upper = sum(1 for w in words if w.isupper())
    return upper / len(words) >= 0.7


@lru_cache(maxsize=1)
def _vader() -> Any:
    # Built on first use: loading the lexicon takes ~0.1 s, not needed at import.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    return float(_vader().polarity_scores(text)["compound"])


def support_cues(text: str) -> List[Tuple[str, float]]:
    found = [(cue.name, cue.weight) for cue in SUPPORT_CUES if cue.pattern.search(text)]
    if _shouting(text):
        found.append(("all caps", ALL_CAPS_WEIGHT))
    if REPEATED_PUNCTUATION.search(text):
        found.append(("repeated !/?", REPEATED_PUNCTUATION_WEIGHT))
    return found


def score_message(text: str) -> MessageSentiment:
    base = vader_compound(text)
    cues = support_cues(text)
    if cues == [("repeated !/?", REPEATED_PUNCTUATION_WEIGHT)] and base > 0:
        cues = []  # "thanks!!" is enthusiasm, not anger
    adjusted = max(-1.0, min(1.0, base - sum(weight for _, weight in cues)))
    return MessageSentiment(round(adjusted, 4), base, tuple(name for name, _ in cues))


# --- Conversation level -------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """What the frustration signal needs to know about one customer turn."""

    text: str
    compound: float
    intent: Optional[str] = None
    fallback: bool = False  # the bot did not understand (nlu_fallback / out of scope)


@dataclass(frozen=True)
class Frustration:
    level: float  # 0 (calm) .. 1 (very frustrated)
    trend: float  # change of sentiment: mean of the last turns minus mean of the earlier ones
    fallbacks: int  # recent turns the bot did not understand
    rephrases: int  # recent turns that repeat or rephrase the previous one
    human_requests: int
    reasons: Tuple[str, ...] = field(default_factory=tuple)


RECENT_TURNS = 4
_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset("a an the i my me to is it of for and or on in you your do does can please this that".split())


def _content_words(text: str) -> Set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def similar_messages(first: str, second: str) -> bool:
    """Whether the second message repeats or rephrases the first (half their content words shared)."""
    a, b = _content_words(first), _content_words(second)
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= 0.5


def conversation_frustration(turns: Sequence[Turn]) -> Frustration:
    """Frustration over the latest turns of one conversation (oldest first)."""
    if not turns:
        return Frustration(0.0, 0.0, 0, 0, 0)
    recent = list(turns[-RECENT_TURNS:])
    earlier = list(turns[:-RECENT_TURNS])[-RECENT_TURNS:]
    recent_mean = sum(t.compound for t in recent[-2:]) / len(recent[-2:])
    baseline = earlier or recent[:-2]
    trend = recent_mean - (sum(t.compound for t in baseline) / len(baseline)) if baseline else 0.0
    fallbacks = sum(t.fallback for t in recent)
    rephrases = sum(similar_messages(a.text, b.text) for a, b in zip(recent, recent[1:]))
    human_requests = sum(t.intent == Intent.REQUEST_HUMAN for t in turns)
    reasons = []
    level = max(0.0, -recent_mean)  # how negative the last turns are
    if trend <= -0.3:
        level += 0.2
        reasons.append(f"sentiment falling ({trend:+.2f})")
    if fallbacks >= 2:
        level += 0.15 * fallbacks
        reasons.append(f"bot did not understand {fallbacks} of the last {len(recent)} messages")
    if rephrases:
        level += 0.15 * rephrases
        reasons.append(f"customer repeated or rephrased {rephrases} time(s)")
    if human_requests:
        level += 0.3
        reasons.append("customer asked for a person")
    if recent_mean <= DISSATISFIED_AT:
        reasons.insert(0, f"recent messages negative ({recent_mean:+.2f})")
    return Frustration(round(min(1.0, level), 3), round(trend, 3), fallbacks, rephrases, human_requests, tuple(reasons))


def _since_fresh_start(events: Sequence[Dict[str, Any]]) -> Sequence[Dict[str, Any]]:
    """The events after the latest fresh start (FRESH_START_EVENTS), found by walking back from the end."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in FRESH_START_EVENTS:
            return events[index:]
    return events


def turns_from_events(events: Sequence[Dict[str, Any]]) -> List[Turn]:
    """The customer's messages since the latest fresh start, from Rasa's JSON events."""
    turns = []
    for event in _since_fresh_start(events):
        if event.get("event") != "user" or not event.get("text"):
            continue
        parse = event.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        # An FAQ question counts by its topic ("faq/payment_declined"): the rules can name topics (a
        # buying-stage customer whose payment keeps failing is a sale about to be lost, not an FAQ).
        selected = ((parse.get("response_selector") or {}).get(intent or "") or {}).get("response") or {}
        intent = selected.get("intent_response_key") or intent
        compound = (parse.get("sentiment") or {}).get("compound")
        if compound is None:
            compound = score_message(event["text"]).compound
        turns.append(Turn(event["text"], float(compound), intent, intent in FALLBACK_INTENTS))
    return turns
