"""Release runs started from the trainers' page: one at a time, each in its own process (training
loads Rasa and TensorFlow, which the escalation service does not), with its log and report in a
folder of its own under <BOT_PROJECT_DIR>/var/releases/.

"One at a time" holds across the service's processes (make demo-scaled runs several, and a trainer's
next request may reach another one): the release process holds an exclusive lock on
`<runs>/.release.lock` for as long as it lives (it inherits the descriptor the service locked), and
`<runs>/.running` names its run. Any process sees a release running while the lock is held, and the
lock goes with the release process however it ends, so a crash never leaves a stale "busy". (The
folder is on one machine: service processes on several hosts need a shared folder with working
locks, or one release host.)"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Dict, List, Optional

LOCK_FILE, RUNNING_FILE = ".release.lock", ".running"


class ReleaseBusy(RuntimeError):
    """Another release is running."""


class ReleaseJobs:
    def __init__(self, runs_dir: Path, env: Dict[str, str]) -> None:
        self.runs_dir = runs_dir
        self._env = env
        self._lock = threading.Lock()
        self._children: List[subprocess.Popen] = []  # this process's release processes, reaped when done

    def start(self, requested_by: str) -> str:
        with self._lock:
            self._reap()
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            lock = self._take_lock()
            try:
                run_id = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
                folder = self.runs_dir / run_id
                folder.mkdir(parents=True)
                (folder / "requested.json").write_text(json.dumps({"by": requested_by, "at": run_id}))
                (self.runs_dir / RUNNING_FILE).write_text(run_id)
                with open(folder / "log.txt", "wb") as log:
                    self._children.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "training.release", "--out", str(folder)],
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=self._env,
                            pass_fds=(lock.fileno(),),  # the release process holds the lock from here on
                        )
                    )
                return run_id
            finally:
                lock.close()  # this process's hold ends; the child's copy keeps the lock until it exits

    def _take_lock(self, exit_grace_seconds: float = 30) -> IO:
        """The lock, or ReleaseBusy. A release that has written its report is only exiting, so it gets a
        few seconds to do so before it counts as running."""
        lock = open(self.runs_dir / LOCK_FILE, "a")
        deadline = time.monotonic() + exit_grace_seconds
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return lock
            except BlockingIOError:
                running = self._running_id()
                exiting = running is not None and (self.runs_dir / running / "report.json").exists()
                if not exiting or time.monotonic() >= deadline:
                    lock.close()
                    raise ReleaseBusy(
                        f"Wait for the running release to finish (release {running} is still running)."
                    ) from None
                time.sleep(0.1)

    def _running_id(self) -> Optional[str]:
        """The run whose release process holds the lock now, or None."""
        try:
            with open(self.runs_dir / LOCK_FILE, "a") as probe:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nothing is running
                return None
        except BlockingIOError:
            running = self.runs_dir / RUNNING_FILE
            return running.read_text().strip() if running.exists() else None
        except FileNotFoundError:
            return None

    def _reap(self) -> None:
        self._children = [child for child in self._children if child.poll() is None]

    def status(self, run_id: str) -> Optional[dict]:
        folder = self.runs_dir / run_id
        if not folder.is_dir() or "/" in run_id or run_id.startswith("."):
            return None
        report_file = folder / "report.json"
        log_lines = (
            (folder / "log.txt").read_text(errors="replace").splitlines() if (folder / "log.txt").exists() else []
        )
        progress = [line[4:] for line in log_lines if line.startswith("==> ")]
        requested = json.loads((folder / "requested.json").read_text()) if (folder / "requested.json").exists() else {}
        if report_file.exists():
            report = json.loads(report_file.read_text())
            return {
                "id": run_id,
                "state": "passed" if report["passed"] else "refused",
                "progress": progress,
                "requested_by": requested.get("by"),
                "report": report,
            }
        self._reap()
        if self._running_id() == run_id:
            return {"id": run_id, "state": "running", "progress": progress, "requested_by": requested.get("by")}
        return {
            "id": run_id,
            "state": "failed",
            "progress": progress,
            "requested_by": requested.get("by"),
            "error": "\n".join(log_lines[-15:]) or "the release process stopped without a report",
        }

    def recent(self, limit: int = 10) -> List[dict]:
        if not self.runs_dir.exists():
            return []
        ids = sorted((p.name for p in self.runs_dir.iterdir() if p.is_dir()), reverse=True)[:limit]
        return [s for s in (self.status(i) for i in ids) if s]

    def confusion_chart(self, run_id: str) -> Optional[Path]:
        path = self.runs_dir / run_id / "confusion.png"
        return path if "/" not in run_id and path.exists() else None
