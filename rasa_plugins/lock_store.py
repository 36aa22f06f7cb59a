"""Rasa's Redis lock store, with one fix for replicas that die.

Rasa serves one message of a conversation at a time with a queue of tickets in Redis; every ticket,
the waiting ones included, expires after the lock lifetime (TICKET_LOCK_LIFETIME). When a replica dies
while it holds a conversation's ticket, the next message (the customer's widget sends it again to the
other replica) waits for that dead ticket to expire. But its own ticket was issued about as long ago,
and Rasa's loop (one check a second, later on a busy replica) can find both expired at once: the
waiting message is then behind nobody and yet "locked" for ever, never answered (seen in the scaled
tests' replica kill under load). Here a waiting message whose own ticket expired takes it again, at
the same place in the line, with a fresh lifetime.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore


class SupportRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if all(t.number != ticket for t in lock.tickets):
                lock = self._take_again(lock, ticket)
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)

    def _take_again(self, lock: TicketLock, ticket: int) -> TicketLock:
        """Our ticket expired while we waited: back in, in number order (only later ones are behind it)."""
        tickets = sorted([*lock.tickets, Ticket(ticket, time.time() + LOCK_LIFETIME)], key=lambda t: t.number)
        lock.tickets.clear()
        lock.tickets.extend(tickets)
        self.save_lock(lock)
        return lock
