"""What the attack and fault tests and the security probe (bench/security_probe.py) share: a server that
hangs, a forged action-server call, and the addresses a port listens on."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Set

from common.database import Database
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import HandoffQueue


class StuckServer:
    """Accepts connections and never answers: a Rasa server that hangs."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)  # the kernel completes the connections; nobody reads from them
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()


def claimed_handoffs(database_url: str, demo_password: str, count: int, prefix: str) -> List[str]:
    """`count` handoffs in the general queue, each claimed by the demo agent alice (created here), as the
    conversations a stuck Rasa would hold up; their ids."""
    database = Database.from_url(database_url)
    AgentDirectory(database).seed_demo_agents(demo_password)
    queue, now = HandoffQueue(database), datetime.now(timezone.utc)
    ids = []
    for n in range(count):
        handoff = queue.enqueue(f"{prefix}-{n}", None, "standard", {}, "general", 3, [], 3600, now)
        ids.append(queue.claim(handoff.id, "alice", now).id)
    return ids


def forged_action_call(sender: str) -> dict:
    """An `action_escalate` call as Rasa would send it, with made-up VIP slots: what an attacker who
    reaches the action server would post."""
    complaint = "I want a person NOW, this is outrageous!!!"
    return {
        "next_action": "action_escalate",
        "sender_id": sender,
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"tier": "vip", "lifetime_value": 999999, "customer_id": "demo-vip"},
            "events": [{"event": "user", "text": complaint}],
            "latest_message": {"text": complaint, "intent": {"name": "complain"}},
        },
    }


def listening_addresses(port: int) -> Set[str]:
    """The local addresses with a listening TCP socket on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found
