"""The analytics consumer of the scaled configuration: takes Rasa's events from its event broker
(RabbitMQ, the queue Rasa's PikaEventBroker publishes to) and stores them in the product's database
(analytics/broker_events.py), where the service's refresh turns them into the fact table.

Safe to stop and restart at any moment: a message is acknowledged only after its event is committed, so
a consumer killed in between gets it again, and storing it again adds nothing (the event's key). Events
wait in RabbitMQ's durable queue while no consumer runs. Messages that are not JSON events are
acknowledged and logged, never retried forever.

Run: `python -m analytics.event_consumer` (the scaled launcher supervises it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from typing import Any, List, Optional

import aio_pika

from analytics.broker_events import BrokerEvents
from common.database import Database
from common.settings import Settings, load_settings

logger = logging.getLogger(__name__)
RASA_EXCHANGE = "rasa-exchange"  # the fanout exchange Rasa's PikaEventBroker publishes to, unless configured
BATCH = 200  # events committed together
BATCH_WAIT_SECONDS = 0.2  # a lone event waits at most this long for company


def parse(body: bytes) -> Optional[dict]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) and event.get("sender_id") and event.get("event") else None


class EventConsumer:
    def __init__(self, events: BrokerEvents, url: str, queue_name: str, exchange: str = RASA_EXCHANGE) -> None:
        self.events, self.url, self.queue_name, self.exchange = events, url, queue_name, exchange
        self.stored = self.duplicates = self.rejected = 0
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        connection = await aio_pika.connect_robust(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=BATCH)
            # Declared as Rasa declares them, so whichever starts first, the queue exists and is bound.
            exchange = await channel.declare_exchange(self.exchange, type=aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue_name, durable=True)
            await queue.bind(exchange, "")
            arrived: "asyncio.Queue[Any]" = asyncio.Queue()
            tag = await queue.consume(arrived.put)  # acknowledged by _store, once stored
            self.ready.set()
            pending: List[Any] = []
            while not stop.is_set():
                quiet = False
                try:
                    pending.append(await asyncio.wait_for(arrived.get(), BATCH_WAIT_SECONDS))
                except asyncio.TimeoutError:
                    quiet = True  # nothing more came within the wait: what there is goes in now
                if pending and (quiet or len(pending) >= BATCH):
                    await self._store(pending)
                    pending = []
            await queue.cancel(tag)
            while not arrived.empty():
                pending.append(arrived.get_nowait())
            if pending:
                await self._store(pending)

    async def _store(self, messages: List[Any]) -> None:
        events = []
        for message in messages:
            event = parse(message.body)
            if event is None:
                self.rejected += 1
                logger.warning("Not a Rasa event, dropped from the analytics queue: %r", message.body[:200])
            else:
                events.append(event)
        new = await asyncio.get_running_loop().run_in_executor(None, self.events.record, events)
        self.stored += new
        self.duplicates += len(events) - new
        # Only now, with the events committed: a crash before this line means a redelivery, not a loss.
        for message in messages:
            await message.ack()


def main(settings: Optional[Settings] = None) -> None:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    consumer = EventConsumer(
        BrokerEvents(Database.from_url(settings.customer_db_url)),
        settings.scaled_rabbitmq_url,
        settings.event_broker_queue,
        exchange=settings.event_broker_queue,  # the scaled endpoints name Rasa's exchange after the queue
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logger.info("Analytics consumer: queue %s", settings.event_broker_queue)
        await consumer.run(stop)
        logger.info("Stopped: %s events stored, %s delivered again", consumer.stored, consumer.duplicates)

    asyncio.run(run())


if __name__ == "__main__":
    main()
