"""One release at a time across the service's processes (make demo-scaled runs several): two ReleaseJobs
on one folder, as two processes have them, with real release processes that are made to take a few
seconds and then stop without a report: a sitecustomize on their path sleeps, then ends the process before
`python -m training.release` runs (nothing is trained)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from training.jobs import ReleaseBusy, ReleaseJobs

PAUSE_SECONDS = 3


@pytest.fixture
def slow_release_env(tmp_path: Path) -> dict:
    startup = tmp_path / "startup"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text(f"import os, time\ntime.sleep({PAUSE_SECONDS})\nos._exit(3)\n")
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    return {**env, "PYTHONPATH": str(startup)}


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_release_started_in_one_process_is_running_for_the_other_and_blocks_it(tmp_path: Path, slow_release_env):
    runs = tmp_path / "releases"
    first, second = ReleaseJobs(runs, slow_release_env), ReleaseJobs(runs, slow_release_env)
    run_id = first.start("tara")
    assert second.status(run_id)["state"] == "running"  # the other process sees it running
    with pytest.raises(ReleaseBusy, match=run_id):
        second.start("tara")
    wait_until(lambda: second.status(run_id)["state"] != "running")
    assert second.status(run_id)["state"] == "failed"  # it stopped without a report
    assert first.status(run_id)["state"] == "failed"
    other = second.start("tara")  # the lock went with the process
    assert other != run_id and first.status(other)["state"] == "running"
    wait_until(lambda: first.status(other)["state"] != "running")


def test_a_finished_release_frees_the_lock_even_if_its_starter_is_gone(tmp_path: Path, slow_release_env):
    runs = tmp_path / "releases"
    starter = ReleaseJobs(runs, slow_release_env)
    run_id = starter.start("tara")
    del starter  # the service process that started it went away (a restart)
    survivor = ReleaseJobs(runs, slow_release_env)
    assert survivor.status(run_id)["state"] == "running"
    wait_until(lambda: survivor.status(run_id)["state"] == "failed")
    assert [r["id"] for r in survivor.recent()] == [run_id]  # the lock files are not runs
