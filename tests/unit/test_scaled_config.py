"""make demo-scaled's topology and generated files, read back by the programs that use them: Rasa's own
endpoint, lock store and event broker classes, and nginx's configuration test."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.utils.endpoints import read_endpoint_config

from common.rasa_commands import BOT_DIR
from common.settings import throwaway_settings
from tools import scaled


def settings_for(tmp_path: Path, **overrides: object):
    return throwaway_settings(tmp_path, **overrides)


def test_each_process_gets_a_port_of_its_own_from_the_base(tmp_path: Path):
    settings = settings_for(tmp_path, RASA_REPLICAS=3, ACTION_SERVERS=2, SERVICE_PROCESSES=2, SCALED_PORT_BASE=16000)
    layout = scaled.topology(settings)
    assert layout.rasa_ports == [16001, 16002, 16003]
    assert layout.action_ports == [16101, 16102] and layout.service_ports == [16201, 16202]
    assert layout.rasa_urls == ["http://127.0.0.1:16001", "http://127.0.0.1:16002", "http://127.0.0.1:16003"]


@pytest.mark.parametrize("name,value", [("RASA_REPLICAS", 0), ("ACTION_SERVERS", 100), ("SERVICE_PROCESSES", -1)])
def test_impossible_counts_are_refused_by_name(tmp_path: Path, name: str, value: int):
    with pytest.raises(ValueError, match=name):
        scaled.topology(settings_for(tmp_path, **{name: value}))


def test_every_process_shares_the_deployments_services_and_keeps_the_public_addresses(tmp_path: Path):
    settings = settings_for(
        tmp_path,
        SCALED_DATABASE_URL="postgresql://support:pw@db.internal:5433/chats",
        SCALED_REDIS_URL="redis://cache.internal:6380/2",
        SCALED_PORT_BASE=16000,
        TRUSTED_PROXIES=1,
    )
    layout = scaled.topology(settings)
    shared = scaled.shared_settings(settings, layout)
    assert shared.customer_db_url == shared.tracker_store_url == "postgresql://support:pw@db.internal:5433/chats"
    assert shared.socketio_redis_url == "redis://cache.internal:6380/2"
    assert shared.rasa_replica_urls == ["http://127.0.0.1:16001", "http://127.0.0.1:16002"]
    replica = scaled.rasa_replica_settings(shared, layout, 16002)
    assert replica.rasa_url == "http://127.0.0.1:16002"
    assert replica.action_server_url == settings.action_server_url  # actions through the proxy
    service = scaled.service_settings(shared, 16201)
    assert service.escalation_port == 16201 and service.rasa_url == settings.rasa_url  # Rasa through the proxy
    assert service.trusted_proxies == 2  # the deployer's proxy and nginx
    action = scaled.action_server_settings(shared, layout, 16101)
    assert action.action_server_port == 16101


def generated_endpoints(tmp_path: Path, **overrides: object) -> Path:
    settings = settings_for(tmp_path, **overrides)
    shared = scaled.shared_settings(settings, scaled.topology(settings))
    endpoints = scaled.scaled_endpoints(yaml.safe_load((BOT_DIR / "endpoints.yml").read_text()), shared)
    path = tmp_path / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints))
    return path


def test_rasa_reads_the_tracker_store_lock_store_and_broker_of_the_generated_endpoints(tmp_path: Path, monkeypatch):
    # what the launcher gives every Rasa process (common.rasa_commands.process_env)
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t")
    path = generated_endpoints(
        tmp_path,
        SCALED_DATABASE_URL="postgresql://support:s%40cret@db.internal:5433/chats?sslmode=require",
        SCALED_REDIS_URL="redis://:pw@cache.internal:6380/3",
        SCALED_RABBITMQ_URL="amqp://rasa:b%2Fpw@mq.internal:5673/support",
        EVENT_BROKER_QUEUE="support-events",
    )
    tracker = read_endpoint_config(str(path), "tracker_store")
    assert tracker.type == "rasa_plugins.tracker_store.SupportSQLTrackerStore"
    assert tracker.url == "db.internal"
    assert tracker.kwargs == {
        "dialect": "postgresql",
        "port": 5433,
        "db": "chats",
        "username": "support",
        "password": "s@cret",
        "query": {"sslmode": "require"},
    }
    lock_store = LockStore.create(read_endpoint_config(str(path), "lock_store"))
    assert isinstance(lock_store, RedisLockStore)  # Redis's client connects on first use
    connection = lock_store.red.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"], connection["password"]) == (
        "cache.internal",
        6380,
        3,
        "pw",
    )
    assert lock_store.key_prefix == "larkspurchats:lock:"
    broker_config = read_endpoint_config(str(path), "event_broker")
    assert broker_config.type == "pika"
    broker = PikaEventBroker(broker_config.url, **broker_config.kwargs, event_loop=asyncio.new_event_loop())
    assert broker._configure_url() == "amqp://rasa:b/pw@mq.internal:5673/support"
    assert broker.queues == ["support-events"] and broker.exchange_name == "support-events"


def test_the_action_endpoint_and_its_token_are_kept_from_the_projects_endpoints(tmp_path: Path):
    generated = yaml.safe_load(generated_endpoints(tmp_path).read_text())
    assert generated["action_endpoint"] == yaml.safe_load((BOT_DIR / "endpoints.yml").read_text())["action_endpoint"]


@pytest.mark.parametrize(
    "service,setting",
    [
        ("PostgreSQL", "SCALED_DATABASE_URL"),
        ("Redis", "SCALED_REDIS_URL"),
        ("RabbitMQ", "SCALED_RABBITMQ_URL"),
        ("nginx", "./scripts/proxy.sh"),
    ],
)
def test_a_missing_service_is_named_with_what_to_do(service: str, setting: str):
    text = scaled.advice(service, "10.0.0.5:5432", "Connection refused")
    assert text.startswith(f"{service} is not reachable at 10.0.0.5:5432 (Connection refused)") and setting in text


def test_every_missing_service_is_reported_at_once(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(scaled, "NGINX", str(tmp_path / "no-nginx"))
    settings = settings_for(
        tmp_path,
        SCALED_DATABASE_URL="postgresql://postgres@127.0.0.1:1/x",
        SCALED_REDIS_URL="redis://127.0.0.1:1/0",
        SCALED_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:1/%2F",
    )
    found = scaled.problems(settings)
    assert [line.split(" ")[0] for line in found] == ["PostgreSQL", "Redis", "RabbitMQ", "nginx"]
    assert "127.0.0.1:1" in found[0] and "service postgresql start" in found[0]


def nginx_config(tmp_path: Path, **overrides: object) -> str:
    settings = settings_for(tmp_path, SCALED_PORT_BASE=16000, RASA_REPLICAS=2, SERVICE_PROCESSES=3, **overrides)
    return scaled.nginx_config(scaled.NGINX_TEMPLATE.read_text(), settings, scaled.topology(settings), tmp_path)


def test_the_proxy_listens_on_the_public_ports_in_front_of_every_process(tmp_path: Path):
    settings = settings_for(tmp_path)
    text = nginx_config(
        tmp_path,
        RASA_PORT=settings.rasa_port,
        ESCALATION_PORT=settings.escalation_port,
        ACTION_SERVER_PORT=settings.action_server_port,
    )
    assert f"listen 127.0.0.1:{settings.rasa_port};" in text
    assert f"listen 127.0.0.1:{settings.escalation_port};" in text
    assert f"listen 127.0.0.1:{settings.action_server_port};" in text
    for port in (16001, 16002, 16101, 16201, 16202, 16203):
        assert f"server 127.0.0.1:{port} " in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text and "daemon off;" in text
    # a long-polling session's requests go to the replica whose address starts its id
    assert '"~^127-0-0-1-16002\\." 127.0.0.1:16002;' in text and "proxy_pass http://$rasa_replica;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text


@pytest.mark.skipif(shutil.which("nginx") is None and not Path(scaled.NGINX).exists(), reason="nginx is not installed")
def test_nginx_accepts_the_generated_configuration(tmp_path: Path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx.conf").write_text(nginx_config(tmp_path))
    result = subprocess.run(
        [
            scaled.NGINX,
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "logs" / "e.log"),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_engine_io_session_ids_name_the_replica_that_made_them():
    from socketio import AsyncServer

    from rasa_plugins.channels import replica_tag, tag_sessions_with_this_replica

    server = AsyncServer(async_mode="asgi")
    tag_sessions_with_this_replica(server, replica_tag("10.0.0.5", 15001))
    first, second = server.eio.generate_id(), server.eio.generate_id()
    assert first.startswith("10-0-0-5-15001.") and second.startswith("10-0-0-5-15001.") and first != second
