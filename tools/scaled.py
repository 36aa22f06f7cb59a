"""`make demo-scaled`: the same product on the services of a real deployment, several of each process.

PostgreSQL holds Rasa's tracker store, the CRM, the queue and the trainers' data (one database, created
when missing, Alembic migrations); Redis is Rasa's lock store and socket.io's message manager; RabbitMQ
is Rasa's event broker (Pika: every tracker event to EVENT_BROKER_QUEUE). RASA_REPLICAS Rasa servers,
ACTION_SERVERS action servers and SERVICE_PROCESSES escalation-service processes listen on ports of
their own (SCALED_INTERNAL_HOST, from SCALED_PORT_BASE up) behind nginx, which listens where `make demo`
does: RASA_PORT for Rasa's channels (websockets included), ESCALATION_PORT for the service, and
ACTION_SERVER_PORT for the action servers (which only the replicas call). Every process, nginx
included, is watched by the launcher's Supervisor (restarted on a crash, with backoff).

The topology and the generated files (endpoints, nginx configuration) are pure functions of the
settings, tested without starting anything; the functions at the end start the processes, for this
command, the scaled tests and the benchmark alike. docs/scaling.md describes the whole.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url

from common.database import Database, migrate
from common.rasa_commands import BOT_DIR, train
from common.settings import PROJECT_ROOT, VAR_DIR, Settings, load_settings
from rasa_plugins.channels import replica_tag
from tools import launcher
from tools.launcher import Service, Supervisor

RUN_DIR = VAR_DIR / "scaled"
NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf.template"
PROXY = "proxy (nginx)"
# Offsets from SCALED_PORT_BASE: replica i of a kind (from 1) listens on base + offset + i.
RASA_OFFSET, ACTION_OFFSET, SERVICE_OFFSET = 0, 100, 200
MAX_OF_A_KIND = 99


# --- the topology: pure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """Where each process behind the proxy listens."""

    host: str
    rasa_ports: List[int]
    action_ports: List[int]
    service_ports: List[int]

    @property
    def rasa_urls(self) -> List[str]:
        return [f"http://{self.host}:{port}" for port in self.rasa_ports]


def topology(settings: Settings) -> Topology:
    counts = {
        "RASA_REPLICAS": settings.rasa_replicas,
        "ACTION_SERVERS": settings.action_servers,
        "SERVICE_PROCESSES": settings.service_processes,
    }
    for name, count in counts.items():
        if not 1 <= count <= MAX_OF_A_KIND:
            raise ValueError(f"Setting {name} must be between 1 and {MAX_OF_A_KIND}, got {count}")
    base = settings.scaled_port_base

    def ports(offset: int, count: int) -> List[int]:
        return [base + offset + i for i in range(1, count + 1)]

    return Topology(
        settings.scaled_internal_host,
        ports(RASA_OFFSET, settings.rasa_replicas),
        ports(ACTION_OFFSET, settings.action_servers),
        ports(SERVICE_OFFSET, settings.service_processes),
    )


def shared_settings(settings: Settings, layout: Topology) -> Settings:
    """What every process of the scaled system shares: the services of the deployment, and every Rasa
    replica's address for the trainers' releases. The public addresses stay those of the proxy."""
    return dataclasses.replace(
        settings,
        customer_db_url=settings.scaled_database_url,
        tracker_db_url=settings.scaled_database_url,
        socketio_redis_url=settings.scaled_redis_url,
        rasa_replica_urls_text=" ".join(layout.rasa_urls),
        analytics_events_from="event_broker",  # the analytics consumer's events, not the tracker store's
    )


def rasa_replica_settings(shared: Settings, layout: Topology, port: int) -> Settings:
    # The replica listens on its own port; its actions go through the proxy (ACTION_SERVER_PORT).
    return dataclasses.replace(shared, rasa_host=layout.host, rasa_port=port)


def action_server_settings(shared: Settings, layout: Topology, port: int) -> Settings:
    return dataclasses.replace(shared, action_server_host=layout.host, action_server_port=port)


def service_settings(shared: Settings, port: int) -> Settings:
    # Behind one more proxy: the service believes the address nginx adds to X-Forwarded-For.
    return dataclasses.replace(shared, escalation_port=port, trusted_proxies=shared.trusted_proxies + 1)


def _redis_parts(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"SCALED_REDIS_URL must be a redis:// URL, got {url!r}")
    config = {"url": parts.hostname or "127.0.0.1", "port": parts.port or 6379, "db": int(parts.path[1:] or 0)}
    if parts.password:
        config["password"] = unquote(parts.password)
    if parts.username:
        config["username"] = unquote(parts.username)
    if parts.scheme == "rediss":
        config["use_ssl"] = True
    return config


def _rabbitmq_parts(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"SCALED_RABBITMQ_URL must be an amqp:// URL, got {url!r}")
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    # Rasa's broker adds the credentials and the port to a URL given as `url` (the virtual host stays).
    return {
        "url": f"{parts.scheme}://{parts.hostname}:{port}{parts.path or '/'}",
        "port": port,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
    }


def tracker_store_config(database_url: str) -> dict:
    """The project's SQL tracker store (rasa_plugins/tracker_store.py) on the database at the URL."""
    url = make_url(database_url)
    config = {
        "type": "rasa_plugins.tracker_store.SupportSQLTrackerStore",
        "dialect": url.get_backend_name(),
        "url": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "db": url.database,
    }
    if url.username:
        config["username"] = url.username
    if url.password:
        config["password"] = str(url.password)
    if url.query:
        config["query"] = dict(url.query)
    return config


def scaled_endpoints(base: dict, shared: Settings) -> dict:
    """bot/endpoints.yml with the deployment's stores: the tracker store on PostgreSQL, Redis's lock store
    (one conversation's messages are handled in order whichever replica gets them) and RabbitMQ's
    event broker. The action endpoint and anything else stay as the project has them."""
    lock_store = {
        "type": "rasa_plugins.lock_store.SupportRedisLockStore",  # Rasa's, safe when a replica dies holding a lock
        **_redis_parts(shared.scaled_redis_url),
        "key_prefix": _lock_prefix(shared),
    }
    broker = {
        "type": "pika",
        **_rabbitmq_parts(shared.scaled_rabbitmq_url),
        "queues": [shared.event_broker_queue],
        # The exchange is named after the queue, so that two systems on one RabbitMQ (a test beside
        # the demo) do not feed each other's queues.
        "exchange_name": shared.event_broker_queue,
    }
    return {
        **base,
        "tracker_store": tracker_store_config(shared.tracker_store_url),
        "lock_store": lock_store,
        "event_broker": broker,
    }


def _lock_prefix(shared: Settings) -> str:
    # Rasa's lock keys are "<prefix>:lock:<conversation>"; one prefix per database keeps systems apart.
    # Rasa takes letters and digits only (it falls back to no prefix otherwise).
    database = make_url(shared.scaled_database_url).database or ""
    return "larkspur" + "".join(c for c in database if c.isalnum())


def _servers(host: str, ports: Sequence[int]) -> str:
    return "\n".join(f"        server {host}:{port} max_fails=1 fail_timeout=3s;" for port in ports)


def nginx_config(template: str, settings: Settings, layout: Topology, run_dir: Path) -> str:
    """The proxy's configuration: the public addresses of `make demo` in front of the processes."""
    values = {
        "WORKER_PROCESSES": "1",  # on 2 shared cores one event loop carries thousands of connections
        "RUN_DIR": str(run_dir),
        "RASA_SERVERS": _servers(layout.host, layout.rasa_ports),
        "RASA_SESSION_ROUTES": "\n".join(
            f'        "~^{replica_tag(layout.host, port)}\\." {layout.host}:{port};' for port in layout.rasa_ports
        ),
        "SERVICE_SERVERS": _servers("127.0.0.1", layout.service_ports),  # the service listens on localhost
        "ACTION_SERVERS": _servers(layout.host, layout.action_ports),
        "RASA_LISTEN": f"{settings.rasa_host}:{settings.rasa_port}",
        "SERVICE_LISTEN": f"127.0.0.1:{settings.escalation_port}",
        "ACTION_LISTEN": f"{settings.action_server_host}:{settings.action_server_port}",
    }
    text = template
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if "@" in "".join(line.split("#")[0] for line in text.splitlines()):
        raise ValueError("The nginx template names a value the launcher does not fill")
    return text


SERVICES_TO_START = {
    "PostgreSQL": "start it (Debian: `service postgresql start`) or point SCALED_DATABASE_URL in .env at yours",
    "Redis": "start it (Debian: `service redis-server start`) or point SCALED_REDIS_URL in .env at yours",
    "RabbitMQ": "start it (Debian: `service rabbitmq-server start`) or point SCALED_RABBITMQ_URL in .env at yours",
    "nginx": "install it: ./scripts/proxy.sh (Debian's package `nginx`), or set NGINX_PATH",
}


def advice(service: str, where: str, problem: object) -> str:
    """What to tell the person who ran the command when a service is missing."""
    return f"{service} is not reachable at {where} ({problem}): {SERVICES_TO_START[service]}."


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


# --- the services the deployment needs: I/O ----------------------------------------------------------


def _postgres_problem(url: str) -> Optional[str]:
    import psycopg2

    server = make_url(url).set(database="postgres")
    try:
        psycopg2.connect(server.render_as_string(hide_password=False), connect_timeout=3).close()
        return None
    except psycopg2.Error as error:
        return str(error).strip().splitlines()[0]


def _redis_problem(url: str) -> Optional[str]:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        return None
    except redis.RedisError as error:
        return str(error)


def _rabbitmq_problem(url: str) -> Optional[str]:
    import aio_pika

    async def probe() -> None:
        connection = await asyncio.wait_for(aio_pika.connect(url), 5)
        await connection.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as error:  # aio_pika raises many kinds: refused, auth, timeout
        return str(error) or type(error).__name__


def problems(settings: Settings) -> List[str]:
    """Every service `make demo-scaled` needs that is missing, each with what to do."""
    found = []
    checks = (
        ("PostgreSQL", settings.scaled_database_url, _postgres_problem),
        ("Redis", settings.scaled_redis_url, _redis_problem),
        ("RabbitMQ", settings.scaled_rabbitmq_url, _rabbitmq_problem),
    )
    for service, url, check in checks:
        problem = check(url)
        if problem is not None:
            found.append(advice(service, _where(url), problem))
    if not (os.path.isfile(NGINX) and os.access(NGINX, os.X_OK)):
        found.append(advice("nginx", NGINX, "no such program"))
    return found


def ensure_database(url: str) -> bool:
    """Creates the PostgreSQL database of `url` when it does not exist; True when it was created."""
    import psycopg2

    target = make_url(url)
    connection = psycopg2.connect(target.set(database="postgres").render_as_string(hide_password=False))
    connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
            if cursor.fetchone():
                return False
            cursor.execute(f'CREATE DATABASE "{target.database}"')
            return True
    finally:
        connection.close()


def ensure_tracker_tables(endpoints: dict) -> None:
    """Rasa's tracker store creates its table on first use: done here once, before the replicas start
    together (two replicas creating it at the same moment would collide)."""
    from rasa_plugins.tracker_store import SupportSQLTrackerStore

    config = {k: v for k, v in endpoints["tracker_store"].items() if k != "type"}
    store = SupportSQLTrackerStore(domain=None, host=config.pop("url"), **config)
    store.engine.dispose()


def prepare(settings: Settings, run_dir: Path, report: Callable[[str], None]) -> Path:
    """Database (created, migrated, seeded, demo accounts), tracker table and the generated files;
    returns the endpoints file."""
    from common.crm import CustomerRepository
    from escalation.queue.agents import AgentDirectory
    from tools.seed import seed_customers

    layout = topology(settings)
    shared = shared_settings(settings, layout)
    if ensure_database(shared.scaled_database_url):
        report(f"Created the database {make_url(shared.scaled_database_url).database}")
    report("Bringing the database schema up to date (migrations)")
    migrate(shared.customer_db_url)
    written = seed_customers(CustomerRepository.from_url(shared.customer_db_url), shared.seed_customer_count)
    report(f"Seeded {written} customers")
    # The service processes do this too at start; done once here so that they do not race to insert.
    AgentDirectory(Database.from_url(shared.customer_db_url)).sync_demo_accounts(
        shared.demo_accounts, shared.demo_agent_password
    )
    for folder in ("logs", "nginx"):
        (run_dir / folder).mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((BOT_DIR / "endpoints.yml").read_text())
    endpoints = scaled_endpoints(base, shared)
    endpoints_file = run_dir / "endpoints.yml"
    _write_private(endpoints_file, yaml.safe_dump(endpoints, sort_keys=False))  # it holds passwords
    ensure_tracker_tables(endpoints)
    (run_dir / "nginx.conf").write_text(nginx_config(NGINX_TEMPLATE.read_text(), settings, layout, run_dir))
    return endpoints_file


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


# --- the processes -----------------------------------------------------------------------------------


def start_proxy(settings: Settings, run_dir: Path) -> Service:
    command = [
        NGINX,
        "-p",
        str(run_dir),
        "-e",
        str(run_dir / "logs" / "nginx-error.log"),
        "-c",
        str(run_dir / "nginx.conf"),
    ]
    service = launcher._spawn(
        PROXY,
        command,
        dict(os.environ),
        run_dir / "logs" / "nginx.log",
        f"http://127.0.0.1:{settings.escalation_port}/health",
    )
    return service


@dataclass
class ScaledSystem:
    """The processes of one scaled system, each watched by the supervisor."""

    settings: Settings  # the public addresses (the proxy's)
    shared: Settings  # what the processes behind the proxy share (their databases, Redis, RabbitMQ)
    layout: Topology
    supervisor: Supervisor
    run_dir: Path

    @property
    def escalation_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.escalation_port}"

    @property
    def rasa_names(self) -> List[str]:
        return [launcher.numbered(launcher.RASA_SERVER, n) for n in range(1, len(self.layout.rasa_ports) + 1)]

    @property
    def service_names(self) -> List[str]:
        return [launcher.numbered(launcher.ESCALATION_SERVICE, n) for n in range(1, len(self.layout.service_ports) + 1)]

    @property
    def action_names(self) -> List[str]:
        return [launcher.numbered(launcher.ACTION_SERVER, n) for n in range(1, len(self.layout.action_ports) + 1)]

    def service(self, name: str) -> Service:
        return self.supervisor.current(name)

    def wait_until_up(self, timeout: float = 240) -> None:
        for name in [*self.action_names, *self.rasa_names, *self.service_names, PROXY]:
            launcher.wait_until_up(self.service(name), timeout)
        for url in self.layout.rasa_urls:
            launcher.wait_for_model(self.settings, timeout, rasa_url=url)
        launcher.wait_for_model(self.settings, timeout)  # and through the proxy

    def put_on_shift(self, agents: Sequence[str]) -> None:
        launcher.put_on_shift(self.settings, self.escalation_url, agents)


def start_scaled_system(
    settings: Settings, model: Path, endpoints: Path, run_dir: Path, report: Callable[[str], None]
) -> ScaledSystem:
    """Every process behind the proxy, then the proxy, each watched by one Supervisor."""
    layout = topology(settings)
    shared = shared_settings(settings, layout)
    logs = run_dir / "logs"
    supervisor, started_at = Supervisor(report), time.time()
    starters: List[Callable[[], Service]] = []
    for n, port in enumerate(layout.action_ports, 1):
        starters.append(
            lambda n=n, port=port: launcher.start_action_server(
                action_server_settings(shared, layout, port), log_dir=logs, number=n
            )
        )
    for n, port in enumerate(layout.rasa_ports, 1):
        replica = rasa_replica_settings(shared, layout, port)
        starters.append(
            lambda n=n, replica=replica: launcher.start_rasa(
                replica,
                launcher.model_to_serve(replica, model, started_at),
                logs,
                endpoints,
                number=n,
                extra_env={"TICKET_LOCK_LIFETIME": str(shared.scaled_lock_lifetime_seconds)},
            )
        )
    for n, port in enumerate(layout.service_ports, 1):
        starters.append(
            lambda n=n, port=port: launcher.start_escalation_service(service_settings(shared, port), logs, number=n)
        )
    starters.append(lambda: launcher.start_analytics_consumer(shared, logs))
    starters.append(lambda: start_proxy(settings, run_dir))
    for start in starters:
        supervisor.watch(start(), start)
    return ScaledSystem(settings, shared, layout, supervisor, run_dir)


@contextmanager
def running_scaled_system(settings: Settings, model: Path, run_dir: Path) -> Iterator[ScaledSystem]:
    """Prepares and starts a scaled system (for tests and benchmarks), waits until it answers, restarts
    a process that crashes, and stops everything on exit."""

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    endpoints = prepare(settings, run_dir, say)
    system = start_scaled_system(settings, model, endpoints, run_dir, say)
    try:
        system.wait_until_up()
        with launcher.supervised(system.supervisor):
            yield system
    finally:
        system.supervisor.stop_all()


def banner(system: ScaledSystem) -> str:
    layout = system.layout
    lines = [
        "",
        "==> Scaled configuration: behind nginx "
        f"(Rasa {system.settings.rasa_url}, service {system.escalation_url}, "
        f"action servers :{system.settings.action_server_port})",
        f"    {len(layout.rasa_ports)} Rasa replica(s): {' '.join(layout.rasa_urls)}",
        f"    {len(layout.action_ports)} action server(s) on ports {', '.join(map(str, layout.action_ports))}",
        f"    {len(layout.service_ports)} escalation-service process(es) on ports "
        f"{', '.join(map(str, layout.service_ports))}",
        f"    PostgreSQL {_where(system.shared.scaled_database_url)} (database "
        f"{make_url(system.shared.scaled_database_url).database}), Redis {_where(system.shared.scaled_redis_url)}, "
        f"RabbitMQ {_where(system.shared.scaled_rabbitmq_url)} (events in queue {system.shared.event_broker_queue}, "
        "read by the analytics consumer)",
        f'    make release from another terminal: make release RASA_REPLICA_URLS="{" ".join(layout.rasa_urls)}"',
        f"    Logs: {system.run_dir / 'logs'}",
    ]
    return "\n".join(lines) + launcher.banner(system.settings).replace(
        f"Logs: {VAR_DIR / 'logs'}", f"Logs: {system.run_dir / 'logs'}"
    )


def main() -> None:
    signal.signal(signal.SIGINT, launcher._interrupt)
    signal.signal(signal.SIGTERM, launcher._interrupt)
    settings = load_settings()
    missing = problems(settings)
    if missing:
        print("==> make demo-scaled needs these services first:", file=sys.stderr)
        for line in missing:
            print(f"  - {line}", file=sys.stderr)
        raise SystemExit(1)
    endpoints = prepare(settings, RUN_DIR, lambda line: print(f"==> {line}", flush=True))
    print("==> Training the bot if its data, config or code changed", flush=True)
    model = train()
    print(f"==> Model: {model.name}", flush=True)
    system: Optional[ScaledSystem] = None
    try:
        print("==> Starting the processes (loading the model takes ~20 s per replica)", flush=True)
        system = start_scaled_system(settings, model, endpoints, RUN_DIR, lambda line: print(f"==> {line}", flush=True))
        system.wait_until_up()
        print(banner(system), flush=True)
        launcher.supervise_until_stopped(system.supervisor)
    except KeyboardInterrupt:  # while starting
        print("\n==> Stopping", flush=True)
    finally:
        if system is not None:
            system.supervisor.stop_all()


def throwaway_services(name: str) -> dict:
    """Settings for a short-lived scaled system (tests, benchmarks) on the deployment's services as .env
    names them: its own database and event queue called `name`, dropped by whoever made them."""
    configured = load_settings()
    server = make_url(configured.scaled_database_url).set(database=name)
    return {
        "SCALED_DATABASE_URL": server.render_as_string(hide_password=False),
        "SCALED_REDIS_URL": configured.scaled_redis_url,
        "SCALED_RABBITMQ_URL": configured.scaled_rabbitmq_url,
        "EVENT_BROKER_QUEUE": name,
    }


def free_port_base(count: int = 300, start: int = 20000, attempts: int = 200) -> int:
    """A SCALED_PORT_BASE whose ports are all free now (tests and benchmarks beside a running demo)."""
    import random
    import socket

    for _ in range(attempts):
        base = random.randrange(start, 60000 - count, 10)
        try:
            for offset in (RASA_OFFSET, ACTION_OFFSET, SERVICE_OFFSET):
                for i in range(1, 4):
                    with socket.socket() as sock:
                        sock.bind(("127.0.0.1", base + offset + i))
            return base
        except OSError:
            continue
    raise RuntimeError("No free range of ports for the scaled system")


if __name__ == "__main__":
    main()


def drop_throwaway_services(settings: Settings) -> None:
    """Drops what `throwaway_services` made for a test or a benchmark: its database, and its event queue
    with the exchange named after it."""
    import aio_pika
    import psycopg2

    target = make_url(settings.scaled_database_url)
    connection = psycopg2.connect(target.set(database="postgres").render_as_string(hide_password=False))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    connection.close()

    async def delete_queue() -> None:
        broker = await aio_pika.connect(settings.scaled_rabbitmq_url)
        channel = await broker.channel()
        await channel.queue_delete(settings.event_broker_queue)
        await channel.exchange_delete(settings.event_broker_queue)
        await broker.close()

    asyncio.run(delete_queue())
