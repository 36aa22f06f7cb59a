"""Starts the system's processes: training when needed, the action server and the Rasa server.

`make demo` runs `python -m tools.launcher`; the integration tests and benchmarks use the same
functions with their own settings, so what is tested is what runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Deque, Iterator, List, Optional, Sequence

import requests

from common.database import migrate
from common.rasa_commands import BIN, BOT_DIR, RASA, process_env, train
from common.settings import PROJECT_ROOT, VAR_DIR, Settings, load_settings
from escalation.queue.agents import agent_token


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    health_url: str
    log_path: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _spawn(name: str, command: List[str], env: dict, log_path: Path, health_url: str) -> Service:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO = open(log_path, "ab")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    return Service(name, process, health_url, log_path)


ACTION_SERVER, RASA_SERVER, ESCALATION_SERVICE = "action server", "Rasa server", "escalation service"
MAX_REQUEST_BYTES = 1024 * 1024


def numbered(name: str, number: Optional[int]) -> str:
    """A process's name (and its log's), numbered when several of its kind run (make demo-scaled)."""
    return name if number is None else f"{name} {number}"


def _log_file(log_dir: Path, stem: str, number: Optional[int]) -> Path:
    return log_dir / (f"{stem}.log" if number is None else f"{stem}-{number}.log")


def start_action_server(settings: Settings, log_dir: Path = VAR_DIR / "logs", number: Optional[int] = None) -> Service:
    command = [RASA, "run", "actions", "--actions", "actions", "--port", str(settings.action_server_port)]
    host = "127.0.0.1" if settings.action_server_host in ("0.0.0.0", "::") else settings.action_server_host
    return _spawn(
        numbered(ACTION_SERVER, number),
        command,
        {**process_env(settings), "SANIC_HOST": settings.action_server_host},  # rasa_sdk's listen address
        _log_file(log_dir, "actions", number),
        f"http://{host}:{settings.action_server_port}/health",
    )


def rasa_run_command(settings: Settings, model: Path, endpoints: Path = BOT_DIR / "endpoints.yml") -> List[str]:
    """`rasa run` for this project. Values go as `--option=value`: a generated token may start with "-",
    which argparse would otherwise take for an option (Rasa then exits at start)."""
    return [
        RASA,
        "run",
        f"--model={model}",
        "--enable-api",
        f"--auth-token={settings.rasa_token}",
        f"--interface={settings.rasa_host}",
        f"--port={settings.rasa_port}",
        f"--credentials={BOT_DIR / 'credentials.yml'}",
        f"--endpoints={endpoints}",
        "--cors",  # last: it takes every origin that follows
        *settings.rasa_cors_origins.split(),
    ]


def start_rasa(
    settings: Settings,
    model: Path,
    log_dir: Path = VAR_DIR / "logs",
    endpoints: Path = BOT_DIR / "endpoints.yml",
    number: Optional[int] = None,
    extra_env: Optional[dict] = None,
    wrapper: Sequence[str] = (),
) -> Service:
    """`wrapper`: a command that runs Rasa, e.g. `ip netns exec NAME` (Rasa on another host's network)."""
    command = [*wrapper, *rasa_run_command(settings, model, endpoints)]
    # Sanic refuses bodies over this before reading them (its default is 100 MB); customers' messages
    # are a few KB, the channel's own check answers 413 above 1 MB.
    env = {**process_env(settings), "SANIC_REQUEST_MAX_SIZE": str(MAX_REQUEST_BYTES), **(extra_env or {})}
    return _spawn(
        numbered(RASA_SERVER, number), command, env, _log_file(log_dir, "rasa", number), f"{settings.rasa_url}/"
    )


ANALYTICS_CONSUMER = "analytics consumer"


def start_analytics_consumer(settings: Settings, log_dir: Path = VAR_DIR / "logs") -> Service:
    """The scaled configuration's reader of Rasa's event broker (analytics/event_consumer.py); it has no
    HTTP side: supervised by its process alone."""
    command = [str(BIN / "python"), "-m", "analytics.event_consumer"]
    return _spawn(ANALYTICS_CONSUMER, command, process_env(settings), log_dir / "analytics-consumer.log", "")


def start_escalation_service(
    settings: Settings, log_dir: Path = VAR_DIR / "logs", number: Optional[int] = None
) -> Service:
    command = [str(BIN / "python"), "-m", "service"]
    return _spawn(
        numbered(ESCALATION_SERVICE, number),
        command,
        process_env(settings),
        _log_file(log_dir, "escalation", number),
        f"http://127.0.0.1:{settings.escalation_port}/health",
    )


def model_to_serve(settings: Settings, trained: Path, started_at: float) -> Path:
    """The model a Rasa server (re)starts with: the live one when the trainers released (or rolled back)
    since the system started at `started_at` (time.time()), so that a replica restarted after a
    release does not bring back the older model; else the one the system started with."""
    from training.release import released_model  # training loads more than the launcher needs up front

    return released_model(Path(settings.bot_project_dir), since=started_at) or trained


def answers(check) -> bool:
    """`check()`, or False while the server is not up yet (refuses connections or answers nonsense)."""
    try:
        return check()
    except (requests.RequestException, ValueError):
        return False


def wait_until_up(service: Service, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"The {service.name} exited (code {service.process.returncode}). "
                f"Last lines of {service.log_path}:\n{service.log_tail()}"
            )
        if answers(lambda: requests.get(service.health_url, timeout=2).ok):
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"The {service.name} did not answer at {service.health_url} within {timeout:.0f} s. "
        f"Last lines of {service.log_path}:\n{service.log_tail()}"
    )


def wait_for_model(settings: Settings, timeout: float = 180, rasa_url: Optional[str] = None) -> None:
    """`/` answers before the model is loaded; /status (token-protected) says when it is."""
    url = rasa_url or settings.rasa_url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(
            lambda: bool(
                requests.get(f"{url}/status", params={"token": settings.rasa_token}, timeout=2).json().get("model_file")
            )
        ):
            return
        time.sleep(0.5)
    raise TimeoutError(f"The Rasa server at {url} did not load its model in time.")


class GaveUp(RuntimeError):
    """A process kept crashing: restarting it again would only hide the problem."""


@dataclass
class _Watched:
    start: Callable[[], Service]
    service: Service
    crashes: Deque[float] = field(default_factory=deque)
    restart_at: Optional[float] = None
    held: bool = False


class Supervisor:
    """Restarts a process that exited on its own, so one crash does not take the system down.

    Bounded and with backoff: the n-th crash within RESTART_WINDOW_SECONDS waits 2^(n-1) s (at most
    MAX_BACKOFF_SECONDS) before the restart; after MAX_CRASHES in the window `check` raises GaveUp with
    the process's last log lines. Every crash and restart is reported through `report`. Stored
    conversations and handoffs live in the databases, so a restarted process carries on from them.
    """

    MAX_CRASHES = 5
    RESTART_WINDOW_SECONDS = 600
    MAX_BACKOFF_SECONDS = 30

    def __init__(self, report: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._watched: List[_Watched] = []
        self._report = report
        self._clock = clock
        self._lock = threading.Lock()

    def watch(self, service: Service, start: Callable[[], Service]) -> None:
        with self._lock:
            self._watched.append(_Watched(start, service))

    def current(self, name: str) -> Service:
        with self._lock:
            return next(w.service for w in self._watched if w.service.name == name)

    def check(self) -> None:
        """Notices crashed processes and restarts those whose backoff has passed (call it every second)."""
        with self._lock:
            for watched in self._watched:
                self._check(watched, self._clock())

    def _check(self, watched: _Watched, now: float) -> None:
        service = watched.service
        if watched.restart_at is None:
            if service.process.poll() is None:
                return
            while watched.crashes and watched.crashes[0] < now - self.RESTART_WINDOW_SECONDS:
                watched.crashes.popleft()
            watched.crashes.append(now)
            if len(watched.crashes) > self.MAX_CRASHES:
                raise GaveUp(
                    f"The {service.name} crashed {len(watched.crashes)} times in "
                    f"{self.RESTART_WINDOW_SECONDS // 60} minutes; not restarting it again. "
                    f"Last lines of {service.log_path}:\n{service.log_tail()}"
                )
            delay = min(2.0 ** (len(watched.crashes) - 1), self.MAX_BACKOFF_SECONDS)
            watched.restart_at = now + delay
            self._report(
                f"The {service.name} exited (code {service.process.returncode}); restarting it in {delay:.0f} s "
                f"(crash {len(watched.crashes)} of at most {self.MAX_CRASHES} in "
                f"{self.RESTART_WINDOW_SECONDS // 60} minutes). Its log: {service.log_path}"
            )
        elif now >= watched.restart_at and not watched.held:
            watched.service, watched.restart_at = watched.start(), None
            self._report(f"Restarted the {service.name} (process {watched.service.process.pid}).")

    @contextmanager
    def holding(self, name: str) -> Iterator[None]:
        """No restart of `name` while the block runs (it starts again after): to see how the rest of the
        system copes without it, or to replace it by hand."""
        with self._lock:
            watched = next(w for w in self._watched if w.service.name == name)
            watched.held = True
        try:
            yield
        finally:
            with self._lock:
                watched.held = False

    def stop_all(self) -> None:
        with self._lock:
            for watched in reversed(self._watched):
                watched.service.stop()


@contextmanager
def supervised(supervisor: Supervisor, interval: float = 0.5) -> Iterator[None]:
    """Runs `supervisor.check()` in a background thread (for tests and benchmarks) until the block ends."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(interval):
            try:
                supervisor.check()
            except GaveUp as problem:
                print(problem, file=sys.stderr, flush=True)
                return

    thread = threading.Thread(target=loop, name="supervisor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# Settings for tests and benchmarks whose agents stay online for the whole run (put_on_shift).
ALL_DAY_PRESENCE = {"AGENT_PRESENCE_TIMEOUT_SECONDS": str(24 * 3600)}


def put_on_shift(settings: Settings, escalation_url: str, agents: Sequence[str]) -> None:
    """Puts agents online, as their consoles would; for tests and benchmarks that run with
    ALL_DAY_PRESENCE, so that one call lasts the whole run instead of a heartbeat's minute."""
    for agent in agents:
        token = agent_token(agent, settings.agent_token_secret)
        requests.post(
            f"{escalation_url}/api/presence",
            json={"status": "online"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()


@dataclass
class System:
    """The three processes of one running copy of the system, restarted when one crashes."""

    settings: Settings
    model: Path
    supervisor: Supervisor
    log_dir: Path

    @property
    def rasa(self) -> Service:
        return self.supervisor.current(RASA_SERVER)

    @property
    def actions(self) -> Service:
        return self.supervisor.current(ACTION_SERVER)

    @property
    def escalation(self) -> Service:
        return self.supervisor.current(ESCALATION_SERVICE)

    @property
    def escalation_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.escalation_port}"

    def put_on_shift(self, agents: Sequence[str]) -> None:
        put_on_shift(self.settings, self.escalation_url, agents)

    def wait_until_up(self) -> None:
        """Until every process answers and Rasa has loaded its model (after a start or a restart)."""
        for service in (self.actions, self.rasa, self.escalation):
            wait_until_up(service)
        wait_for_model(self.settings)


def start_system(settings: Settings, model: Path, log_dir: Path, report: Callable[[str], None]) -> Supervisor:
    """The action server, the Rasa server and the escalation service, watched by a Supervisor."""
    supervisor, started_at = Supervisor(report), time.time()
    starters = (
        lambda: start_action_server(settings, log_dir=log_dir),
        lambda: start_rasa(settings, model_to_serve(settings, model, started_at), log_dir=log_dir),
        lambda: start_escalation_service(settings, log_dir=log_dir),
    )
    for start in starters:
        supervisor.watch(start(), start)
    return supervisor


@contextmanager
def running_system(settings: Settings, model: Path, log_dir: Path, kind=System) -> Iterator[System]:
    """Starts the whole system (for tests and benchmarks), waits until it answers, restarts a process that
    crashes, and stops everything on exit."""
    migrate(settings.customer_db_url)  # before any process opens the database
    supervisor = start_system(settings, model, log_dir, report=lambda line: print(line, file=sys.stderr, flush=True))
    system = kind(settings, model, supervisor, log_dir)
    try:
        system.wait_until_up()
        with supervised(supervisor):
            yield system
    finally:
        supervisor.stop_all()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C and `kill` both stop everything cleanly, even when started from a script that ignores
    # SIGINT for background jobs.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = load_settings()
    print("==> Bringing the database schema up to date (migrations)", flush=True)
    migrate(settings.customer_db_url)
    print("==> Training the bot if its data, config or code changed", flush=True)
    model = train()
    print(f"==> Model: {model.name}", flush=True)
    supervisor: Optional[Supervisor] = None
    history: Optional[subprocess.Popen] = None
    try:
        print(
            f"==> Starting the action server (port {settings.action_server_port}), the Rasa server "
            f"({settings.rasa_url}; loading the model takes ~20 s) and the escalation service "
            f"(website, agent console, API; port {settings.escalation_port})",
            flush=True,
        )
        supervisor = start_system(
            settings, model, VAR_DIR / "logs", report=lambda line: print(f"==> {line}", flush=True)
        )
        System(settings, model, supervisor, VAR_DIR / "logs").wait_until_up()
        print(banner(settings), flush=True)
        if settings.demo_accounts:  # the analytics page's demo week, played once through the running system
            history = subprocess.Popen([str(BIN / "python"), "-m", "analytics.seed", "--days", "7", "--if-empty"])
        supervise_until_stopped(supervisor)
    except KeyboardInterrupt:  # while starting
        print("\n==> Stopping", flush=True)
    finally:
        if history is not None and history.poll() is None:
            history.terminate()
        if supervisor is not None:
            supervisor.stop_all()


def supervise_until_stopped(supervisor: Supervisor) -> None:
    """Restarts what crashes until Ctrl-C or kill; exits with 1, saying why, when a process keeps crashing."""
    try:
        while True:
            supervisor.check()
            time.sleep(1)
    except GaveUp as problem:
        print(problem, file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("\n==> Stopping", flush=True)


def banner(settings: Settings) -> str:
    from common.names import DEMO_PERSONAS

    site = f"http://127.0.0.1:{settings.escalation_port}"
    if settings.demo_accounts:
        accounts = (
            f"sign in as alice or bob with the password {settings.demo_agent_password}  (DEMO_AGENT_PASSWORD in .env)"
        )
        trainer = "(sign in as tara, same password)"
        lead = "(sign in as lena, a team lead, or tara; same password)"
    else:
        accounts = "sign in with an account made by `make agent-add` (demo accounts are off: DEMO_ACCOUNTS=false)"
        trainer = "(a trainer's account: make agent-add ROLE=trainer ...)"
        lead = "(a lead's account: make agent-add ROLE=lead ...)"
    demo = (
        f"(the yellow demo bar at the top lets you chat as one of the personas: {', '.join(DEMO_PERSONAS)})"
        if settings.demo_page_enabled
        else "(the demo bar is off: DEMO_PAGE_ENABLED=false)"
    )
    window = Supervisor.RESTART_WINDOW_SECONDS // 60
    return f"""
==> The support bot is running. Logs: {VAR_DIR / "logs"}

  Website with the chat widget:  {site}/
      {demo}
  Agent console:                 {site}/console
      {accounts}
  Trainers' page:                {site}/trainer   {trainer}
  Analytics:                     {site}/analytics   {lead}

Try it: open the console as alice first (online: chats come to her; with nobody online, customers are
honestly offered a callback). On the website choose demo-vip, ask "how long does delivery take?",
then complain ("I'm still waiting for my refund, this is the third time I ask!"). The conversation
opens in alice's console by itself; write to the customer, resolve, and the bot asks for a rating.

A process that crashes is restarted (at most {Supervisor.MAX_CRASHES} times in {window} minutes).
Press Ctrl-C to stop everything.
"""


if __name__ == "__main__":
    main()
