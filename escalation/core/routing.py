"""Who gets which waiting conversation, and how long a customer will wait: pure, no I/O.

The queue's database layer (escalation/queue/routing.py) and the support-day simulation
(bench/routing_simulation.py) both call these functions, so what is measured is what runs.

Assignment follows the helpdesks that route by presence and capacity (Chatwoot's assignment service,
Intercom's balanced assignment), with this product's urgency order on top:
- waiting handoffs go out most urgent first: the earliest SLA due time, then priority (1 first), then
  age; a VIP's two-minute SLA puts it ahead of a standard customer who came earlier;
- an agent is eligible when online, serving the handoff's queue, under capacity, and not one who
  declined this handoff;
- among the eligible, the one with the fewest open conversations wins; ties go to whoever has waited
  longest since their last assignment (never assigned counts as longest), then by name;
- reserved slots (the rules' `routing.reserved_slots`): an agent who serves a queue with a reserve keeps
  that many of their slots for its chats, so the agents who serve VIPs are not filled with general chats
  the moment the line grows (the support-day simulation's finding). A slot holding one of the queue's
  own chats counts towards its reserve; other queues' chats get what is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
PRESENCES = (ONLINE, AWAY, OFFLINE)
PUSH, PULL = "push", "pull"
ROUTING_MODES = (PUSH, PULL)
# Until a queue has this many finished chats to measure, its handle time is the rules' default.
MIN_HANDLE_SAMPLES = 5
_NEVER = datetime.min.replace(tzinfo=timezone.utc)
NO_RESERVE: Mapping[str, int] = {}


@dataclass(frozen=True)
class AgentLoad:
    """An agent as routing sees them at one moment."""

    name: str
    queues: Tuple[str, ...]
    capacity: int
    open_conversations: int
    presence: str  # the effective one: online only while the console's heartbeat keeps coming
    last_assigned_at: Optional[datetime] = None
    open_by_queue: Mapping[str, int] = field(default_factory=dict)  # of open_conversations, per queue

    @property
    def free_slots(self) -> int:
        return max(0, self.capacity - self.open_conversations)

    def held_back(self, queue: str, reserved: Mapping[str, int]) -> int:
        """Free slots kept for the other queues this agent serves that have a reserve (not yet filled by
        their own chats): a chat of `queue` cannot have them."""
        held = 0
        for other, slots in reserved.items():  # a reserve or two in the rules: cheaper than the agent's queues
            if other != queue and other in self.queues:
                held += max(0, slots - self.open_by_queue.get(other, 0))
        return held

    def free_slots_for(self, queue: str, reserved: Mapping[str, int] = NO_RESERVE) -> int:
        return max(0, self.free_slots - self.held_back(queue, reserved)) if reserved else self.free_slots

    def slots_for(self, queue: str, reserved: Mapping[str, int] = NO_RESERVE) -> int:
        """How many chats of `queue` this agent can have open at most."""
        return max(0, self.capacity - sum(n for q, n in reserved.items() if q != queue and q in self.queues))

    def can_take(self, queue: str, reserved: Mapping[str, int] = NO_RESERVE) -> bool:
        return self.presence == ONLINE and queue in self.queues and self.free_slots_for(queue, reserved) > 0

    def with_chat(self, queue: str, now: datetime) -> "AgentLoad":
        """This agent after being given one more chat of `queue`."""
        opened = {**self.open_by_queue, queue: self.open_by_queue.get(queue, 0) + 1}
        return replace(self, open_conversations=self.open_conversations + 1, last_assigned_at=now, open_by_queue=opened)


@dataclass(frozen=True)
class WaitingHandoff:
    id: str
    queue: str
    priority: int
    sla_due_at: datetime
    created_at: datetime
    declined_by: FrozenSet[str] = frozenset()
    customer_away: bool = False  # the chat window closed: not given to anyone unless they come back


def urgency_key(handoff: WaitingHandoff) -> Tuple[datetime, int, datetime, str]:
    return (handoff.sla_due_at, handoff.priority, handoff.created_at, handoff.id)


def effective_presence(status: str, seen_at: Optional[datetime], now: datetime, timeout_seconds: float) -> str:
    """What the console last said, while its heartbeat is fresh; offline once it stops coming."""
    if status not in PRESENCES or seen_at is None or (now - seen_at).total_seconds() > timeout_seconds:
        return OFFLINE
    return status


def choose_agent(
    handoff: WaitingHandoff, agents: Iterable[AgentLoad], reserved: Mapping[str, int] = NO_RESERVE
) -> Optional[AgentLoad]:
    """The agent who should get `handoff` now, or None when nobody eligible has room (`reserved`: the
    rules' reserved slots per queue)."""
    eligible = [a for a in agents if a.can_take(handoff.queue, reserved) and a.name not in handoff.declined_by]
    if not eligible:
        return None
    return min(eligible, key=lambda a: (a.open_conversations, a.last_assigned_at or _NEVER, a.name))


def plan_assignments(
    waiting: Sequence[WaitingHandoff],
    agents: Sequence[AgentLoad],
    now: datetime,
    push_queues: Iterable[str],
    order: Callable[[WaitingHandoff], Any] = urgency_key,
    reserved: Mapping[str, int] = NO_RESERVE,
) -> List[Tuple[str, str]]:
    """(handoff id, agent name) pairs for the waiting handoffs of push queues, most urgent first (`order`:
    another order, as the benchmark's first-come-first-served baseline uses; `reserved`: slots kept per
    queue, see the module's docstring), each
    agent's load updated as the plan goes, so nobody is planned over capacity. A chat whose customer
    closed the window waits for them to come back. Free slots are counted per queue, so a long line
    with nobody free costs one pass over it, not a scan of every agent per chat."""
    pushed = set(push_queues)
    loads: Dict[str, AgentLoad] = {a.name: a for a in agents}
    free: Dict[str, int] = {}  # per queue: the free slots its chats may have
    for agent in agents:
        if agent.presence == ONLINE:
            for queue in agent.queues:
                free[queue] = free.get(queue, 0) + agent.free_slots_for(queue, reserved)
    plan: List[Tuple[str, str]] = []
    for handoff in sorted((h for h in waiting if h.queue in pushed and not h.customer_away), key=order):
        if not any(free.values()):
            break  # everyone is full: the rest of the line waits
        if free.get(handoff.queue, 0) <= 0:
            continue  # nobody for this queue now; a later, less urgent chat of another queue may still go
        chosen = choose_agent(handoff, loads.values(), reserved)
        if chosen is None:
            continue
        plan.append((handoff.id, chosen.name))
        loads[chosen.name] = after = chosen.with_chat(handoff.queue, now)
        for queue in chosen.queues:
            free[queue] += after.free_slots_for(queue, reserved) - chosen.free_slots_for(queue, reserved)
    return plan


# --- waits -------------------------------------------------------------------------------------------


def median_handle_seconds(samples: Sequence[float], default_seconds: float) -> float:
    """The median of measured handle times (claim to resolve), or the default while there are fewer
    than MIN_HANDLE_SAMPLES of them."""
    if len(samples) < MIN_HANDLE_SAMPLES:
        return default_seconds
    ordered = sorted(samples)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def expected_wait_seconds(position: int, online_slots: int, free_slots: int, handle_seconds: float) -> Optional[int]:
    """How long the customer at `position` (1: next) waits: nothing while a free slot is there for
    them; else one slot frees every handle_seconds / online_slots on average. None: nobody is online."""
    if online_slots <= 0:
        return None
    ahead = position - free_slots
    if ahead <= 0:
        return 0
    return int(math.ceil(ahead * handle_seconds / online_slots))


@dataclass(frozen=True)
class QueueCapacity:
    """One queue's people at one moment."""

    agents_online: int  # online agents who serve the queue
    agents_available: int  # of those, with a free slot
    online_slots: int  # their capacities, summed
    free_slots: int  # their free slots, summed


def queue_capacity(queue: str, agents: Iterable[AgentLoad], reserved: Mapping[str, int] = NO_RESERVE) -> QueueCapacity:
    """Slots kept for other queues (`reserved`) are not this queue's: neither free nor online."""
    serving = [a for a in agents if a.presence == ONLINE and queue in a.queues]
    free = [a.free_slots_for(queue, reserved) for a in serving]
    return QueueCapacity(
        len(serving),
        sum(1 for slots in free if slots > 0),
        sum(a.slots_for(queue, reserved) for a in serving),
        sum(free),
    )


def queue_waits(
    queues: Iterable[str],
    agents: Sequence[AgentLoad],
    waiting: Mapping[str, int],
    handle_seconds: Mapping[str, float],
    reserved: Mapping[str, int] = NO_RESERVE,
) -> Tuple[Dict[str, int], Dict[str, int], Dict[str, int]]:
    """Per queue: the expected wait of a customer joining now (behind `waiting` others; a queue with
    nobody online is absent), agents available (online, serving, with a free slot for it) and agents online."""
    waits, available, online = {}, {}, {}
    for queue in queues:
        capacity = queue_capacity(queue, agents, reserved)
        available[queue], online[queue] = capacity.agents_available, capacity.agents_online
        wait = expected_wait_seconds(
            waiting.get(queue, 0) + 1, capacity.online_slots, capacity.free_slots, handle_seconds[queue]
        )
        if wait is not None:
            waits[queue] = wait
    return waits, available, online


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def minutes_text(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def position_message(position: int, wait_seconds: Optional[int]) -> str:
    """What a waiting customer is told: "You are 2nd in line, about 4 minutes."."""
    if wait_seconds is None:
        return f"You are {ordinal(position)} in line. Nobody from the team is online right now; you keep your place."
    if wait_seconds <= 60:
        return f"You are {ordinal(position)} in line: someone will be with you in about a minute."
    return f"You are {ordinal(position)} in line, about {minutes_text(wait_seconds)}."


def breaches_sla(now: datetime, sla_due_at: datetime, wait_seconds: Optional[int]) -> bool:
    """Whether the forecast says the customer will still be waiting when their SLA is due."""
    if wait_seconds is None:
        return True
    return (now.timestamp() + wait_seconds) > sla_due_at.timestamp()
