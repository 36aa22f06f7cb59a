"""The launcher's supervisor with real (tiny) processes and a settable clock: a crashed process comes
back after its backoff, and a crash loop ends with GaveUp."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from tools.launcher import GaveUp, Service, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sleeper(tmp_path: Path, started: List[Service]):
    def start() -> Service:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        service = Service("sleeper", process, "http://unused", tmp_path / "sleeper.log")
        started.append(service)
        return service

    return start


@pytest.fixture
def watched(tmp_path: Path):
    started: List[Service] = []
    reports: List[str] = []
    clock = Clock()
    supervisor = Supervisor(reports.append, clock)
    start = sleeper(tmp_path, started)
    supervisor.watch(start(), start)
    yield supervisor, started, reports, clock
    supervisor.stop_all()


def crash(service: Service) -> None:
    service.process.kill()
    service.process.wait()


def test_a_crashed_process_is_restarted_after_its_backoff(watched):
    supervisor, started, reports, clock = watched
    supervisor.check()
    assert len(started) == 1 and reports == []  # running: nothing to do
    crash(started[0])
    supervisor.check()
    assert len(started) == 1 and "restarting it in 1 s" in reports[-1]
    clock.now += 0.5
    supervisor.check()
    assert len(started) == 1  # still backing off
    clock.now += 0.6
    supervisor.check()
    assert len(started) == 2 and started[1].process.poll() is None
    assert supervisor.current("sleeper") is started[1] and "Restarted the sleeper" in reports[-1]


def test_backoff_doubles_and_a_crash_loop_gives_up(watched):
    supervisor, started, reports, clock = watched
    delays = []
    for _ in range(Supervisor.MAX_CRASHES):
        crash(supervisor.current("sleeper"))
        supervisor.check()
        delays.append(reports[-1].split("restarting it in ")[1].split(" s")[0])
        clock.now += 20
        supervisor.check()
    assert delays == ["1", "2", "4", "8", "16"]
    crash(supervisor.current("sleeper"))
    with pytest.raises(GaveUp, match="crashed 6 times"):
        supervisor.check()


def test_crashes_older_than_the_window_are_forgotten(watched):
    supervisor, started, reports, clock = watched
    for _ in range(Supervisor.MAX_CRASHES + 2):
        crash(supervisor.current("sleeper"))
        supervisor.check()
        clock.now += Supervisor.RESTART_WINDOW_SECONDS / 2 + 1
        supervisor.check()
    assert len(started) == Supervisor.MAX_CRASHES + 3  # never more than two crashes in one window
