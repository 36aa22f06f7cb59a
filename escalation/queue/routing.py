"""Routing at the edge: the pure decisions of escalation/core/routing.py applied to the live queue and
the agents' presence in the database, and what waiting customers are told.

`Router.assign_waiting` runs when a handoff is queued (in the action server, right after
action_escalate enqueues it), when an agent comes online or frees a slot (resolve, transfer, decline)
and on the service's upkeep timer. It plans with the current loads and then assigns each pair with the
queue's atomic, capacity-checked `assign`: if another process assigned the handoff or filled the agent
in between, that pair is skipped and the next round sees the new state. So several processes may run
it at once: a handoff never goes to two agents and no agent goes over capacity.

`Router.tend_waiting` (upkeep timer) keeps the waiting customers informed and notices who left: their
place in line and expected wait when it changes, an offer of a callback (or a ticket) once the forecast
passes their SLA, "are you still there?" after a long silence, and abandonment when the chat window has
been closed for the grace period or the question went unanswered.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple

from common.names import HandoffChannel, Tier
from escalation.core.policy import QueueState
from escalation.core.routing import (
    AgentLoad,
    WaitingHandoff,
    breaches_sla,
    expected_wait_seconds,
    median_handle_seconds,
    minutes_text,
    plan_assignments,
    position_message,
    queue_capacity,
    queue_waits,
)
from escalation.core.rules import Rules
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import ClaimConflict, Handoff, HandoffQueue

logger = logging.getLogger(__name__)
PRESENCE_TIMEOUT_SECONDS = 60  # a console that stopped its heartbeat this long ago is offline
STILL_THERE = (
    "Are you still there? Send any message to keep your place in line; otherwise I'll close this "
    "request in a few minutes (you can always ask for a person again)."
)
CALLBACK_ANSWER = re.compile(r"\b(call me back|callback|call back|ring me back|phone me back|yes,? please call)\b")
NEGATION = re.compile(r"\b(don't|do not|dont|no need|not now|rather wait|i'll wait|i will wait)\b")


def wants_callback(text: str) -> bool:
    """Whether the customer's answer to the callback offer takes it (the bot is paused while they wait,
    so the offer's answer is read here): it must ask for it, and not say no ("don't call me back")."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    if NEGATION.search(lowered):
        return False
    return bool(CALLBACK_ANSWER.search(lowered))


def waiting_view(handoff: Handoff) -> WaitingHandoff:
    return WaitingHandoff(
        handoff.id,
        handoff.queue,
        handoff.priority,
        handoff.sla_due_at,
        handoff.created_at,
        frozenset(handoff.declined_by),
        customer_away=handoff.customer_left_at is not None,
    )


def joined_message(display_name: str) -> str:
    """What the customer reads when a person takes their chat (pushed or claimed)."""
    return (
        f"Hi, this is {display_name.split()[0]} from the Larkspur support team. "
        "I've read your conversation so far and I'm here to help."
    )


@dataclass
class Router:
    queue: HandoffQueue
    agents: AgentDirectory
    rules: Rules
    presence_timeout_seconds: float = PRESENCE_TIMEOUT_SECONDS

    # --- who is there ----------------------------------------------------------------------------

    def loads(self, now: datetime) -> List[AgentLoad]:
        by_queue = self.queue.open_counts_by_queue()
        totals = {agent: sum(counts.values()) for agent, counts in by_queue.items()}
        return [
            replace(load, open_by_queue=by_queue.get(load.name, {}))
            for load in self.agents.loads(totals, now, self.presence_timeout_seconds)
        ]

    def handle_seconds(self) -> Dict[str, float]:
        default = self.rules.routing.default_handle_seconds
        return {q: median_handle_seconds(self.queue.handle_times(q), default) for q in self.rules.queues}

    def queue_state(self, now: datetime) -> QueueState:
        """The honest queue state for the escalation policy: who is online with room, and the wait of a
        customer joining now from the line ahead and the measured handle times."""
        waiting = self.queue.waiting_counts(channel=HandoffChannel.LIVE_CHAT)
        waits, available, online = queue_waits(
            self.rules.queues, self.loads(now), waiting, self.handle_seconds(), self.rules.routing.reserved_slots
        )
        return QueueState(waits, available, online)

    # --- assignment ------------------------------------------------------------------------------

    def assign_waiting(self, now: datetime, only: Optional[str] = None) -> List[Tuple[Handoff, AgentLoad]]:
        """Gives waiting chats of push queues to eligible agents; returns what was assigned to whom.
        With `only` (a handoff id), the plan is made for the whole line, so nobody is jumped, but only
        that handoff is assigned: its caller tells that one customer who joined, and the upkeep timer
        greets the others it assigns."""
        waiting = self.queue.waiting_chats()
        if not waiting:
            return []
        loads = self.loads(now)
        by_name = {agent.name: agent for agent in loads}
        reserved = self.rules.routing.reserved_slots
        views = {h.id: waiting_view(h) for h in waiting}
        plan = plan_assignments(
            list(views.values()), loads, now, self.rules.routing.push_queues(self.rules.queues), reserved=reserved
        )
        done = []
        for handoff_id, name in plan:
            if only is not None and handoff_id != only:
                continue
            agent = by_name[name]
            queue = views[handoff_id].queue
            # The atomic assign counts the slots this agent keeps for other queues from the current rows,
            # so neither this round's earlier assignments nor another process's can fill them.
            keep_for = {q: n for q, n in reserved.items() if q != queue and q in agent.queues}
            try:
                handoff = self.queue.assign(
                    handoff_id, name, now, queues=agent.queues, capacity=agent.capacity, keep_for=keep_for
                )
            except ClaimConflict as conflict:  # another process got there first; the next round re-plans
                logger.info("Not assigning %s to %s: %s", handoff_id, name, conflict)
                continue
            done.append((handoff, agent))
        return done

    # --- the waiting customers -------------------------------------------------------------------

    def positions(self, now: datetime) -> List[Tuple[Handoff, int, Optional[int]]]:
        """Each waiting chat with its place in its queue's line (1: next) and its expected wait."""
        loads, handle = self.loads(now), self.handle_seconds()
        seen: Dict[str, int] = {}
        found = []
        default = self.rules.routing.default_handle_seconds
        for handoff in self.queue.waiting_chats():  # in queue order: most urgent first
            seen[handoff.queue] = position = seen.get(handoff.queue, 0) + 1
            # Only agents who may take this chat count: not those who declined it.
            capacity = queue_capacity(
                handoff.queue,
                [a for a in loads if a.name not in handoff.declined_by],
                self.rules.routing.reserved_slots,
            )
            handle_time = handle.get(handoff.queue, default)  # a queue removed from the rules: the default
            wait = expected_wait_seconds(position, capacity.online_slots, capacity.free_slots, handle_time)
            found.append((handoff, position, wait))
        return found

    def tend_waiting(
        self,
        now: datetime,
        say: Callable[[str, str], None],
        latest_customer_message: Callable[[str], Optional[Tuple[datetime, str]]],
        resume: Callable[[str], None],
    ) -> Dict[str, int]:
        """One round of keeping waiting customers informed (see the module's docstring). `say` sends the
        bot's words into a conversation, `latest_customer_message` gives the time and text of the
        customer's last message, `resume` hands the conversation back to the bot. Returns counts."""
        routing = self.rules.routing
        counts = {"abandoned": 0, "told_position": 0, "offered_callback": 0, "took_callback": 0, "asked": 0}
        for handoff, position, wait in self.positions(now):
            try:
                done = self._tend_one(handoff, position, wait, now, say, latest_customer_message, resume, routing)
            except Exception:  # one handoff's trouble must not stop the others' updates
                logger.exception("Could not tend the waiting handoff %s", handoff.id)
                continue
            if done:
                counts[done] += 1
        return counts

    def _tend_one(self, handoff, position, wait, now, say, latest_customer_message, resume, routing) -> Optional[str]:
        """At most one message to one waiting customer per round; what was done (a count's name), if anything.
        What the customer was told is recorded only once it was delivered (Rasa may be down: the next
        round tries again)."""
        latest = latest_customer_message(handoff.conversation_id)
        last_message = latest[0] if latest else None
        if self._left(handoff, now, last_message, resume):
            return "abandoned"
        offered = handoff.callback_offered_at
        if offered and latest and latest[0] > offered and wants_callback(latest[1]):
            return "took_callback" if self._take_callback(handoff, now, say, resume) else None
        quiet_since = max(handoff.created_at, last_message or handoff.created_at)
        asked = handoff.still_there_asked_at
        if (now - quiet_since).total_seconds() >= routing.still_there_after_seconds and (
            asked is None or asked < quiet_since
        ):
            if self._say(say, handoff, STILL_THERE):
                self.queue.told(handoff.id, still_there_asked_at=now)
                return "asked"
            return None
        if breaches_sla(now, handoff.sla_due_at, wait) and offered is None and self._can_be_contacted(handoff):
            if self._say(say, handoff, self._callback_offer(handoff, wait)):
                self.queue.told(handoff.id, callback_offered_at=now, position_told=position, position_told_at=now)
                return "offered_callback"
            return None
        recently = handoff.position_told_at and (now - handoff.position_told_at).total_seconds() < (
            routing.position_update_seconds
        )
        if position != handoff.position_told and not recently:
            if self._say(say, handoff, position_message(position, wait)):
                self.queue.told(handoff.id, position_told=position, position_told_at=now)
                return "told_position"
        return None

    def _left(
        self, handoff: Handoff, now: datetime, last_message: Optional[datetime], resume: Callable[[str], None]
    ) -> bool:
        """Abandonment: the handoff leaves the queue and the bot has the conversation again (it was
        paused for the person), so a customer who comes back is answered and may ask again."""
        routing = self.rules.routing
        why = None
        if (
            handoff.customer_left_at
            and (now - handoff.customer_left_at).total_seconds() >= routing.customer_gone_seconds
        ):
            why = "the customer closed the chat window"
        asked = handoff.still_there_asked_at
        answered = last_message is not None and asked is not None and last_message >= asked
        if asked and not answered and (now - asked).total_seconds() >= routing.still_there_grace_seconds:
            why = 'no answer to "are you still there?"'
        if why is None or not self.queue.abandon(handoff.id, now, why):
            return False
        try:
            resume(handoff.conversation_id)
        except Exception as error:  # the handoff is closed anyway; the bot resumes when Rasa is back
            logger.warning("Could not hand %s back to the bot after abandonment: %s", handoff.conversation_id, error)
        return True

    @staticmethod
    def _paying(handoff: Handoff) -> bool:
        return handoff.tier in (Tier.VIP.value, Tier.PREMIUM.value, Tier.STANDARD.value)

    def _can_be_contacted(self, handoff: Handoff) -> bool:
        """A callback or an answer later needs someone the business knows: not an anonymous visitor."""
        return bool(handoff.customer_id)

    def _callback_offer(self, handoff: Handoff, wait: Optional[int]) -> str:
        how = (
            "we call you back"
            if self._paying(handoff)
            else "we answer you later (by the contact details on your account)"
        )
        if wait is None:
            why = "nobody from the team is free right now, so we may not reach you as soon as we promised"
        else:
            why = f"the wait is about {minutes_text(wait)}, longer than we promised you"
        return (
            f"I'm sorry: {why}. If you'd rather {how}, say \"call me back\" and you can leave; "
            "otherwise stay here and you keep your place in line."
        )

    def _take_callback(
        self, handoff: Handoff, now: datetime, say: Callable[[str, str], bool], resume: Callable[[str], None]
    ) -> bool:
        """The customer took the offer: the chat becomes a callback (or a ticket), which agents take
        from the list with its SLA due time kept, and the bot has the conversation again."""
        channel = HandoffChannel.PHONE_CALLBACK if self._paying(handoff) else HandoffChannel.TICKET
        if not self.queue.switch_channel(handoff.id, channel, now):
            return False
        done = (
            "we'll call you back"
            if channel == HandoffChannel.PHONE_CALLBACK
            else "we'll answer you by the contact details on your account"
        )
        self._say(say, handoff, f"Done: {done} as soon as someone is free. You can close this window.")
        try:
            resume(handoff.conversation_id)
        except Exception as error:
            logger.warning("Could not hand %s back to the bot: %s", handoff.conversation_id, error)
        return True

    def _say(self, say: Callable[[str, str], None], handoff: Handoff, text: str) -> bool:
        """Whether the words reached the conversation."""
        try:
            say(handoff.conversation_id, text)
            return True
        except Exception as error:  # Rasa unavailable: not recorded as told, so the next round tries again
            logger.warning("Could not tell the customer of %s: %s", handoff.id, error)
            return False
