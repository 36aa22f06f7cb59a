"""The scaled configuration's lock store on the local Redis: a message waiting behind a replica that died
holding its conversation's ticket is served once that ticket expires, even when its own ticket expired
in the same wait (Rasa's own Redis lock store then waits for ever: shown here with a time limit)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from common.settings import load_settings
from rasa_plugins.lock_store import SupportRedisLockStore
from tools.scaled import _redis_parts

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_config():
    url = load_settings().scaled_redis_url
    parts = _redis_parts(url)
    try:
        redis.Redis(host=parts["url"], port=parts["port"]).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {url} ({error}); start redis-server")
    return {**parts, "key_prefix": f"test-{uuid.uuid4().hex[:8]}:"}


def _both_tickets_expired(store, conversation: str) -> int:
    store.issue_ticket(conversation, 0.3)  # the replica that died while serving this conversation
    waiting = store.issue_ticket(conversation, 0.3)  # the message sent again to the other replica
    time.sleep(0.5)  # a busy replica's next look comes after both have expired
    return waiting


async def _acquired(store, conversation: str, ticket: int) -> bool:
    try:
        await asyncio.wait_for(store._acquire_lock(conversation, ticket, 0.05), 3)
        return True
    except asyncio.TimeoutError:
        return False


def test_a_message_behind_a_dead_replicas_ticket_is_served(redis_config):
    config = dict(redis_config)
    store = SupportRedisLockStore(EndpointConfig(url=config.pop("url"), **config))
    conversation = "c-" + uuid.uuid4().hex
    waiting = _both_tickets_expired(store, conversation)
    assert asyncio.run(_acquired(store, conversation, waiting))
    store.cleanup(conversation, waiting)


def test_rasas_own_lock_store_waits_for_ever_there(redis_config):
    config = dict(redis_config)
    store = RedisLockStore(host=config.pop("url"), **config)
    conversation = "c-" + uuid.uuid4().hex
    waiting = _both_tickets_expired(store, conversation)
    assert not asyncio.run(_acquired(store, conversation, waiting))  # the defect the subclass mends
    store.delete_lock(conversation)
