"""Rasa's command line and server processes as this project runs them: which `rasa` executable, the
environment they need (the project importable, settings as environment variables for
bot/endpoints.yml and the actions), and training a model only when its inputs changed.

Used by the release gate (training/), the launcher and the tests, so what is tested is what runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from common.settings import PROJECT_ROOT, Settings, as_environment

BIN = Path(sys.executable).parent
RASA = str(BIN / "rasa")
MODELS_DIR = PROJECT_ROOT / "models"
BOT_DIR = PROJECT_ROOT / "bot"
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"


TRAINING_INPUTS = (
    "config.yml",
    "bot/domain.yml",
    "data",
    "rasa_plugins/intent_classifier.py",
    "rasa_plugins/sentence_featurizer.py",
    "common/sentence_encoder.py",
    "rasa_plugins/response_selector.py",
    "rasa_plugins/escalation.py",
    # The dissatisfaction detector travels inside the model (SentimentAnnotator): a rebuilt detector
    # or a change to how it learns the trainers' labels needs a new model.
    "escalation/dissatisfaction_model.json",
    "escalation/dissatisfaction_precision.npy",
    "escalation/detector.py",
    "escalation/core/dissatisfaction.py",
)
KEEP_MODELS = 3


def cli_env() -> dict:
    """Environment for Rasa's command line (train, validate, test). The project is installed into the
    virtual environment (scripts/setup.sh), so Rasa imports its plug-ins without PYTHONPATH."""
    return dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
    )


def process_env(settings: Settings) -> dict:
    """Environment for the Rasa and action servers and the service: settings as environment variables
    (what bot/endpoints.yml and the actions read)."""
    return {**cli_env(), **as_environment(settings), "ACTION_SERVER_URL": settings.action_server_url}


def training_inputs_digest(config: Path) -> str:
    """Hash of everything a model is built from: data, domain, config and the custom classifier."""
    digest = hashlib.sha256()
    paths = [config, *[PROJECT_ROOT / p for p in TRAINING_INPUTS[1:]]]
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def train(out_dir: Path = MODELS_DIR, config: Path = DEFAULT_CONFIG, extra_args: Optional[List[str]] = None) -> Path:
    """Trains unless the newest model was built from the same inputs; returns the model path.

    Rasa itself would build a new model file on every call (from its cache), so the inputs are
    hashed here and the hash is stored next to the model. Processes that train into the same folder
    at once (test workers, `make demo` beside `make test`) take turns: the later one finds the model
    up to date instead of training it again.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _train_unless_up_to_date(out_dir, config, extra_args)


def _train_unless_up_to_date(out_dir: Path, config: Path, extra_args: Optional[List[str]]) -> Path:
    digest = training_inputs_digest(config)
    stamp = out_dir / ".inputs-sha256"
    newest = _newest_model(out_dir)
    if newest is not None and stamp.exists() and stamp.read_text().split() == [digest, newest.name]:
        print(f"==> Model {newest.name} is up to date (no data, config or code changed)", flush=True)
        return newest
    # `rasa train` as a Rasa user types it at the project root (domain.yml there points into bot/),
    # with only what differs from its defaults.
    command = [RASA, "train"]
    if config != DEFAULT_CONFIG:
        command += ["--config", str(config)]
    if out_dir != MODELS_DIR:
        command += ["--out", str(out_dir)]
    command += list(extra_args or [])
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=cli_env())
    if result.returncode != 0:
        raise SystemExit(f"Training failed (exit {result.returncode}); the output above says why.")
    model = latest_model(out_dir)
    stamp.write_text(f"{digest} {model.name}\n")
    for old in sorted(out_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-KEEP_MODELS]:
        old.unlink()
    return model


def _newest_model(out_dir: Path) -> Optional[Path]:
    models = sorted(out_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def latest_model(out_dir: Path = MODELS_DIR) -> Path:
    model = _newest_model(out_dir)
    if model is None:
        raise FileNotFoundError(f"No trained model in {out_dir}: run `make train`.")
    return model
