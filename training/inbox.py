"""The review inbox: customer messages the bot handled poorly, grouped, most frequent first.

A message is flagged when
- the NLU fell back (`nlu_fallback`), or its intent confidence was below REVIEW_CONFIDENCE_BELOW;
- the customer's next message repeated or rephrased it (the bot's answer did not help);
- the customer asked for a person within the next two messages (what they asked before was not
  resolved by the bot);
- its conversation was handed to a person because the bot did not understand (the handoff's reason);
- its conversation was rated LOW_RATING_AT_MOST or less after a handoff (what went wrong is worth a look).
Messages a trainer has reviewed, and messages already in the training or held-out data, are left
out. Messages that mean the same (sentence embeddings) form one group, with a count, the distinct
wordings, what the bot predicted with which confidence, and the conversation around one occurrence.

Pure functions over events; `inbox_from_stores` feeds them from the tracker store, the queue and the
reviews (for the trainers' API in training/web.py and the CLI).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from common.names import Intent, ReasonCode
from common.sentence_encoder import shared_encoder
from escalation.core.sentiment import similar_messages
from training.project import normalize

FALLBACK = Intent.NLU_FALLBACK
RATE_CSAT = Intent.RATE_CSAT
REQUEST_HUMAN = Intent.REQUEST_HUMAN
SIMILARITY = 0.6  # cosine of the sentence embeddings
PERSON_WITHIN = 2  # customer messages before a request for a person that count as unresolved
MAX_WORDINGS = 2000  # distinct wordings grouped per look at the inbox (most frequent first): bounds its cost
LOW_RATING_AT_MOST = 2  # CSAT (1-5) of a conversation whose messages are offered for review
_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    "a an the i my me to is it of for and or on in you your do does can could would please this that "
    "get want as be with at there what how".split()
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if suffix in ("ing", "ed") and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                stem = stem[:-1]  # wrapping -> wrap, shipped -> ship
            return stem
    return word


def rephrased(first: str, second: str) -> bool:
    """The second message says the first again in other words: shared word stems, or similar overall."""
    if similar_messages(first, second):
        return True
    a = {_stem(w) for w in _WORD.findall(first.lower()) if w not in _STOP}
    b = {_stem(w) for w in _WORD.findall(second.lower()) if w not in _STOP}
    return bool(a and b) and len(a & b) / len(a | b) >= 0.4


CONTEXT_BEFORE, CONTEXT_AFTER = 3, 2


@dataclass
class Flagged:
    text: str
    normalized: str
    conversation_id: str
    event_id: int
    timestamp: Optional[float]
    predicted: str  # the label the bot acted on: an intent, faq/<topic>, or nlu_fallback
    best_guess: Optional[str]  # for a fallback: what the classifier would have said
    confidence: float
    reasons: List[str]
    context: List[Dict[str, str]]  # {"sender": "customer"|"bot"|"agent", "text": ...}, the flagged one marked
    dissatisfaction: Optional[float] = None  # what the detector said then, 0..1 (None: not recorded)
    dissatisfied: bool = False


@dataclass
class Group:
    id: str
    text: str  # the most frequent wording
    count: int
    wordings: List[Dict[str, object]]  # {"text", "count"}
    predicted: str
    best_guess: Optional[str]
    mean_confidence: float
    reasons: Dict[str, int]
    conversation_id: str
    context: List[Dict[str, str]]
    last_seen: Optional[float] = None
    texts: List[str] = field(default_factory=list)  # every distinct wording, for labelling
    dissatisfaction: Optional[float] = None  # the detector's highest score among the messages, 0..1
    called_dissatisfied: int = 0  # of `count` messages, how many the detector called dissatisfied

    def as_json(self) -> dict:
        return asdict(self)


def _prediction(parse: dict) -> Tuple[str, Optional[str], float]:
    intent = parse.get("intent") or {}
    name, confidence = intent.get("name") or FALLBACK, float(intent.get("confidence") or 0.0)
    if name == Intent.FAQ:
        key = (
            ((parse.get("response_selector") or {}).get(Intent.FAQ) or {})
            .get("response", {})
            .get("intent_response_key")
        )
        return key or name, None, confidence
    if name == FALLBACK:
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]
        if ranking:
            return name, ranking[0].get("name"), float(ranking[0].get("confidence") or 0.0)
    return name, None, confidence


def _sender(event: dict, kind: str) -> str:
    if kind == "user":
        return "customer"
    return "agent" if (event.get("metadata") or {}).get("agent") else "bot"


def flag_messages(
    events: Iterable[Tuple[int, str, str, dict]],
    confidence_below: float,
    not_understood: Set[str] = frozenset(),
    skip: Set[str] = frozenset(),
    rated_low: Optional[Dict[str, int]] = None,
    feeling_labelled: Set[str] = frozenset(),
) -> List[Flagged]:
    """Flags customer messages in (event id, conversation id, "user"/"bot", event JSON) events.

    `not_understood`: conversations handed over because the bot did not understand; `skip`:
    normalized texts that are reviewed or already in the data; `rated_low`: conversations rated
    LOW_RATING_AT_MOST or less after a handoff, with the rating, whose messages are offered for a
    dissatisfaction label unless they have one (`feeling_labelled`)."""
    rated_low = rated_low or {}
    by_conversation: Dict[str, List[Tuple[int, str, dict]]] = {}
    for event_id, conversation, kind, event in events:
        if event.get("text"):
            by_conversation.setdefault(conversation, []).append((event_id, kind, event))
    flagged = []
    for conversation, items in by_conversation.items():
        users = [i for i, (_, kind, _) in enumerate(items) if kind == "user"]
        for position, index in enumerate(users):
            event_id, _, event = items[index]
            text = event["text"].strip()
            key = normalize(text)
            if not key or text.startswith("/") or key in skip:  # button payloads carry no wording
                continue
            predicted, best_guess, confidence = _prediction(event.get("parse_data") or {})
            reasons = []
            if predicted == FALLBACK:
                reasons.append("the bot did not understand it (fallback)")
            elif confidence < confidence_below and predicted != REQUEST_HUMAN:
                reasons.append(f"low confidence ({confidence:.2f})")
            later = [items[i][2] for i in users[position + 1 : position + 1 + PERSON_WITHIN]]
            if later and predicted != REQUEST_HUMAN:
                asked_person = [_prediction(e.get("parse_data") or {})[0] == REQUEST_HUMAN for e in later]
                if asked_person[0]:
                    reasons.append("the customer asked for a person next")
                elif any(asked_person):
                    reasons.append("the customer asked for a person soon after")
                if not asked_person[0] and rephrased(text, later[0]["text"]) and normalize(later[0]["text"]) != key:
                    reasons.append("the customer rephrased it next")
            if conversation in rated_low and predicted != RATE_CSAT and key not in feeling_labelled:
                reasons.append(f"its conversation was rated {rated_low[conversation]}/5")
            if conversation in not_understood and reasons:
                reasons.append("handed over because the bot did not understand")
            elif conversation in not_understood and position == len(users) - 1 and predicted != REQUEST_HUMAN:
                reasons.append("handed over because the bot did not understand")
            if not reasons:
                continue
            window = items[max(0, index - CONTEXT_BEFORE) : index + CONTEXT_AFTER + 1]
            context = [{"sender": _sender(e, k), "text": e["text"], "flagged": i == event_id} for i, k, e in window]
            sentiment = (event.get("parse_data") or {}).get("sentiment") or {}
            score = sentiment.get("dissatisfaction")
            flagged.append(
                Flagged(
                    text,
                    key,
                    conversation,
                    event_id,
                    event.get("timestamp"),
                    predicted,
                    best_guess,
                    round(confidence, 3),
                    reasons,
                    context,
                    None if score is None else round(float(score), 3),
                    bool(sentiment.get("dissatisfied")),
                )
            )
    return flagged


def group_similar(flagged: Sequence[Flagged], similarity: float = SIMILARITY) -> List[Group]:
    """Messages that mean the same in one group, groups by size. Meaning is the sentence embedding
    (common/sentence_encoder.py): "do you have a show room" and "can I visit your showroom" share few
    characters but mean the same. Greedy, most frequent wording first: a wording joins the group of the
    already grouped wording it is most similar to (cosine >= `similarity`), else starts a group."""
    if not flagged:
        return []
    counts = Counter(f.normalized for f in flagged)
    keys = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_WORDINGS]  # the rest wait for the next look
    kept = set(keys)
    flagged = [f for f in flagged if f.normalized in kept]
    vectors = shared_encoder().encode(keys)
    group_of: List[int] = []  # per key index: the index of its group's first key
    members: Dict[int, List[str]] = {}
    for index, key in enumerate(keys):
        if index:
            scores = vectors[:index] @ vectors[index]
            best = int(scores.argmax())
            if scores[best] >= similarity:
                group_of.append(group_of[best])
                members[group_of[best]].append(key)
                continue
        group_of.append(index)
        members[index] = [key]
    by_key: Dict[str, List[Flagged]] = {}
    for item in flagged:
        by_key.setdefault(item.normalized, []).append(item)
    groups = []
    for leader, group_keys in members.items():
        items = [f for k in group_keys for f in by_key[k]]
        wordings = Counter()
        first_text = {}
        for item in items:
            wordings[item.normalized] += 1
            first_text.setdefault(item.normalized, item.text)
        example = max(items, key=lambda f: len(f.reasons))
        reasons = Counter(reason.split(" (")[0] for f in items for reason in f.reasons)
        predicted = Counter(f.predicted for f in items).most_common(1)[0][0]
        guesses = Counter(f.best_guess for f in items if f.best_guess)
        scores = [f.dissatisfaction for f in items if f.dissatisfaction is not None]
        groups.append(
            Group(
                id=hashlib.sha256(keys[leader].encode()).hexdigest()[:12],
                text=first_text[keys[leader]],
                count=len(items),
                wordings=[{"text": first_text[k], "count": n} for k, n in wordings.most_common()],
                predicted=predicted,
                best_guess=guesses.most_common(1)[0][0] if guesses else None,
                mean_confidence=round(sum(f.confidence for f in items) / len(items), 3),
                reasons=dict(reasons),
                conversation_id=example.conversation_id,
                context=example.context,
                last_seen=max((f.timestamp or 0) for f in items) or None,
                texts=[first_text[k] for k, _ in wordings.most_common()],
                dissatisfaction=max(scores, default=None),
                called_dissatisfied=sum(f.dissatisfied for f in items),
            )
        )
    return sorted(groups, key=lambda g: (-g.count, -(g.last_seen or 0)))


def build_inbox(
    events: Iterable[Tuple[int, str, str, dict]],
    confidence_below: float,
    not_understood: Set[str],
    skip: Set[str],
    limit: int = 100,
    rated_low: Optional[Dict[str, int]] = None,
    feeling_labelled: Set[str] = frozenset(),
) -> List[Group]:
    flagged = flag_messages(events, confidence_below, not_understood, skip, rated_low, feeling_labelled)
    return group_similar(flagged)[:limit]


RECENT_EVENTS = 20_000  # the inbox looks at this many of the latest messages


def inbox_from_stores(log, queue, reviews, feelings, project, confidence_below: float) -> List[Group]:
    """The inbox now: the latest messages (common.conversation_log.ConversationLog), handoffs
    because the bot did not understand (escalation.queue.handoffs.HandoffQueue, by reason code), and
    what is reviewed (training.store.ReviewStore: `reviews` for intents, `feelings` for
    dissatisfaction labels) or already in the project's data (training.project.BotProject)."""
    handoffs = queue.list(None, limit=5000)
    not_understood = {h.conversation_id for h in handoffs if ReasonCode.NOT_UNDERSTOOD.value in h.reason_codes}
    rated_low = {h.conversation_id: h.csat for h in handoffs if h.csat is not None and h.csat <= LOW_RATING_AT_MOST}
    skip = reviews.reviewed() | set(project.known_texts())
    return build_inbox(
        log.recent_events(RECENT_EVENTS),
        confidence_below,
        not_understood,
        skip,
        rated_low=rated_low,
        feeling_labelled=feelings.reviewed(),
    )
