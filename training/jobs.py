"""Release runs started from the trainers' page: one at a time, each in its own process (training
loads Rasa and TensorFlow, which the escalation service does not), with its log and report in a
folder of its own under <BOT_PROJECT_DIR>/var/releases/."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional


class ReleaseBusy(RuntimeError):
    """Another release is running."""


class ReleaseJobs:
    def __init__(self, runs_dir: Path, env: Dict[str, str]) -> None:
        self.runs_dir = runs_dir
        self._env = env
        self._lock = threading.Lock()
        self._running: Optional[subprocess.Popen] = None
        self._running_id: Optional[str] = None

    def start(self, requested_by: str) -> str:
        with self._lock:
            if self._still_running():
                raise ReleaseBusy(
                    f"Wait for the running release to finish (release {self._running_id} is still running)."
                )
            run_id = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
            folder = self.runs_dir / run_id
            folder.mkdir(parents=True)
            (folder / "requested.json").write_text(json.dumps({"by": requested_by, "at": run_id}))
            log = open(folder / "log.txt", "wb")
            self._running = subprocess.Popen(
                [sys.executable, "-m", "training.release", "--out", str(folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
            )
            log.close()
            self._running_id = run_id
            return run_id

    def _still_running(self, exit_grace_seconds: float = 30) -> bool:
        """Whether the last release process is alive; one that has written its report is only exiting,
        so it gets a few seconds to do so before it counts as running."""
        if self._running is None or self._running.poll() is not None:
            return False
        if (self.runs_dir / self._running_id / "report.json").exists():
            deadline = time.monotonic() + exit_grace_seconds
            while self._running.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        return self._running.poll() is None

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
        running = self._running_id == run_id and self._running is not None and self._running.poll() is None
        if running:
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
