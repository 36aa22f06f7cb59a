"""Starts the system's processes: training when needed, the action server and the Rasa server.

`make demo` runs `python -m tools.launcher`; the integration tests and benchmarks use the same
functions with their own settings, so what is tested is what runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, List

import requests

from common.database import migrate
from common.rasa_commands import BIN, BOT_DIR, RASA, process_env, train
from common.settings import PROJECT_ROOT, VAR_DIR, Settings, load_settings


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


def start_action_server(settings: Settings, log_dir: Path = VAR_DIR / "logs") -> Service:
    command = [RASA, "run", "actions", "--actions", "actions", "--port", str(settings.action_server_port)]
    return _spawn(
        "action server",
        command,
        process_env(settings),
        log_dir / "actions.log",
        f"http://127.0.0.1:{settings.action_server_port}/health",
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
        "--cors=*",
    ]


def start_rasa(
    settings: Settings, model: Path, log_dir: Path = VAR_DIR / "logs", endpoints: Path = BOT_DIR / "endpoints.yml"
) -> Service:
    command = rasa_run_command(settings, model, endpoints)
    return _spawn("Rasa server", command, process_env(settings), log_dir / "rasa.log", f"{settings.rasa_url}/")


def start_escalation_service(settings: Settings, log_dir: Path = VAR_DIR / "logs") -> Service:
    command = [str(BIN / "python"), "-m", "service"]
    return _spawn(
        "escalation service",
        command,
        process_env(settings),
        log_dir / "escalation.log",
        f"http://127.0.0.1:{settings.escalation_port}/health",
    )


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


def wait_for_model(settings: Settings, timeout: float = 180) -> None:
    """`/` answers before the model is loaded; /status (token-protected) says when it is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(
            lambda: bool(
                requests.get(f"{settings.rasa_url}/status", params={"token": settings.rasa_token}, timeout=2)
                .json()
                .get("model_file")
            )
        ):
            return
        time.sleep(0.5)
    raise TimeoutError("The Rasa server did not load its model in time.")


@dataclass
class System:
    """The three processes of one running copy of the system."""

    settings: Settings
    model: Path
    rasa: Service
    actions: Service
    escalation: Service
    log_dir: Path

    @property
    def escalation_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.escalation_port}"

    def restart_rasa(self) -> None:
        self.rasa.stop()
        self.rasa = start_rasa(self.settings, self.model, log_dir=self.log_dir)
        wait_until_up(self.rasa)
        wait_for_model(self.settings)

    def stop(self) -> None:
        for service in (self.rasa, self.actions, self.escalation):
            service.stop()


@contextmanager
def running_system(settings: Settings, model: Path, log_dir: Path, kind=System) -> Iterator[System]:
    """Starts the whole system (for tests and benchmarks), waits until it answers, stops it on exit."""
    migrate(settings.customer_db_url)  # before any process opens the database
    actions = start_action_server(settings, log_dir=log_dir)
    rasa = start_rasa(settings, model, log_dir=log_dir)
    escalation = start_escalation_service(settings, log_dir=log_dir)
    system = kind(settings, model, rasa, actions, escalation, log_dir)
    try:
        for service in (actions, rasa, escalation):
            wait_until_up(service)
        wait_for_model(settings)
        yield system
    finally:
        system.stop()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    from common.names import DEMO_PERSONAS

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
    services: List[Service] = []
    try:
        print(f"==> Starting the action server on port {settings.action_server_port}", flush=True)
        services.append(start_action_server(settings))
        print(f"==> Starting the Rasa server on {settings.rasa_url} (loading the model takes ~20 s)", flush=True)
        services.append(start_rasa(settings, model))
        print(
            f"==> Starting the escalation service (website, agent console, API) on port {settings.escalation_port}",
            flush=True,
        )
        services.append(start_escalation_service(settings))
        for service in services:
            wait_until_up(service)
        wait_for_model(settings)
        site = f"http://127.0.0.1:{settings.escalation_port}"
        print(
            f"""
==> The support bot is running. Logs: {VAR_DIR / "logs"}

  Website with the chat widget:  {site}/
      (the yellow demo bar at the top lets you chat as one of the personas: {", ".join(DEMO_PERSONAS)})
  Agent console:                 {site}/console
      sign in as alice or bob with the password {settings.demo_agent_password}  (DEMO_AGENT_PASSWORD in .env)
  Trainers' page:                {site}/trainer   (sign in as tara, same password)

Try it: on the website choose demo-vip, ask "how long does delivery take?", then complain
("I'm still waiting for my refund, this is the third time I ask!"). The conversation appears at the
top of the console's queue; claim it, write to the customer, resolve, and the bot asks for a rating.

Press Ctrl-C to stop everything.
""",
            flush=True,
        )
        while all(s.process.poll() is None for s in services):
            time.sleep(1)
        stopped = next(s for s in services if s.process.poll() is not None)
        print(f"The {stopped.name} stopped unexpectedly. Last lines of its log:\n{stopped.log_tail()}", file=sys.stderr)
        raise SystemExit(1)
    except KeyboardInterrupt:
        print("\n==> Stopping", flush=True)
    finally:
        for service in reversed(services):
            service.stop()


if __name__ == "__main__":
    main()
