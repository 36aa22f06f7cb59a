"""The queue state the policy decides with, read from the live queue and the agents roster."""

from __future__ import annotations

from escalation.core.policy import QueueState
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import HandoffQueue

# Until the queue measures real handle times, the wait estimate assumes 6 minutes per conversation.
AVERAGE_HANDLE_SECONDS = 360


def live_queue_state(queue: HandoffQueue, agents: AgentDirectory) -> QueueState:
    waiting, staffed = queue.waiting_counts(), agents.count_by_queue()
    waits = {
        name: int(waiting.get(name, 0) * AVERAGE_HANDLE_SECONDS / max(1, staffed.get(name, 0)))
        for name in set(waiting) | set(staffed)
    }
    return QueueState(waits, staffed)
