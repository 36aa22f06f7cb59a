"""The scaled configuration's analytics source: Rasa's own PikaEventBroker publishes tracker events to
the local RabbitMQ, the analytics consumer (`python -m analytics.event_consumer`, a real process) stores
them in a throwaway PostgreSQL database. Killed with SIGKILL in the middle of the stream and started
again, it loses no event and stores none twice; a message delivered again adds nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import List
from urllib.parse import unquote, urlparse

import aio_pika
import pytest
import sqlalchemy as sa

from analytics.broker_events import BrokerEvents
from common.database import Database, migrate
from common.settings import PROJECT_ROOT, as_environment, load_settings, throwaway_settings

pytestmark = pytest.mark.integration
SETTINGS = load_settings()
AMQP = SETTINGS.scaled_rabbitmq_url


def _events(conversations: int, per_conversation: int) -> List[dict]:
    start = time.time() - 3600
    found = []
    for turn in range(per_conversation):
        for c in range(conversations):
            kind = "user" if turn % 2 == 0 else "bot"
            found.append(
                {
                    "sender_id": f"conversation-{c}",
                    "event": kind,
                    "timestamp": start + turn * 10 + c * 0.001,
                    "text": f"{kind} message {turn} of conversation {c}",
                }
            )
    return found


async def _publish(queue: str, events: List[dict]) -> None:
    """As Rasa publishes them: its own event broker class, to its fanout exchange and our queue."""
    import rasa.shared.core.events  # noqa: F401  (the broker uses it without importing it; rasa run has it loaded)
    from rasa.core.brokers.pika import PikaEventBroker

    url = urlparse(AMQP)
    broker = PikaEventBroker(
        url.hostname or "127.0.0.1",
        unquote(url.username or "guest"),
        unquote(url.password or "guest"),
        url.port or 5672,
        queues=[queue],
        exchange_name=queue,  # as the scaled configuration's endpoints name it (tools/scaled.py)
    )
    await broker.connect()
    for event in events:
        broker.publish(event)
    while broker._background_tasks:  # publish() schedules a task per event
        await asyncio.sleep(0.05)
    await broker.close()


async def _delete_queue(queue: str) -> None:
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(queue)


@pytest.fixture
def postgres_database():
    admin = sa.create_engine(SETTINGS.test_postgres_url, isolation_level="AUTOCOMMIT", future=True)
    name = f"analytics_events_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {SETTINGS.test_postgres_url} ({error.orig}); set TEST_POSTGRES_URL")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    database = Database.from_url(url)
    yield url, database
    database.engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def queue_name():
    try:
        asyncio.run(_delete_queue("analytics-test-probe"))
    except (OSError, aio_pika.exceptions.AMQPError) as error:
        pytest.skip(f"RabbitMQ not reachable at {AMQP} ({error}); start it: rabbitmq-server -detached")
    name = f"analytics-test-{uuid.uuid4().hex[:8]}"
    yield name
    asyncio.run(_delete_queue(name))


def _start_consumer(tmp_path, database_url: str, queue: str) -> subprocess.Popen:
    settings = throwaway_settings(tmp_path)
    env = {
        **os.environ,
        **as_environment(settings),
        "CUSTOMER_DB_URL": database_url,
        "SCALED_RABBITMQ_URL": AMQP,
        "EVENT_BROKER_QUEUE": queue,
    }
    log = open(tmp_path / f"consumer-{time.monotonic_ns()}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "analytics.event_consumer"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
    )


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_killed_consumer_loses_nothing_and_counts_nothing_twice(tmp_path, postgres_database, queue_name):
    url, database = postgres_database
    stored = BrokerEvents(database)
    events = _events(conversations=20, per_conversation=40)  # 800 events
    consumer = _start_consumer(tmp_path, url, queue_name)
    try:
        asyncio.run(_publish(queue_name, events[:500]))
        _wait_for(lambda: stored.count() >= 100)
        consumer.send_signal(signal.SIGKILL)  # mid-stream: some delivered, stored, not yet acknowledged
        consumer.wait(10)
        partial = stored.count()
        assert partial < 800
        asyncio.run(_publish(queue_name, events[500:]))  # published while no consumer runs: they wait
        consumer = _start_consumer(tmp_path, url, queue_name)
        _wait_for(lambda: stored.count() == 800)
        asyncio.run(_publish(queue_name, events[:50]))  # the same events again, as a redelivery
        time.sleep(3)
        assert stored.count() == 800
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(20)
    assert consumer.returncode == 0  # a clean stop on SIGTERM
    read_back = stored.of([f"conversation-{c}" for c in range(20)])
    for c in range(20):
        expected = [e["text"] for e in events if e["sender_id"] == f"conversation-{c}"]
        assert [e["text"] for e in read_back[f"conversation-{c}"]] == expected  # every one, in Rasa's order
    changed, newest = stored.changed_since(0)
    assert len(changed) == 20 and newest >= 800
