#!/usr/bin/env bash
# Creates .venv with Python 3.10, installs the pinned dependencies with hash checking (requirements.lock;
# with --dev also requirements-dev.lock, what the tests and tooling need) and the project itself
# (editable), so that Rasa's commands, the tests and the tools import it without PYTHONPATH.
# Re-running is cheap: it reinstalls only when a lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
DEV=false
[ "${1:-}" = "--dev" ] && DEV=true

find_python310() {
  # A pyenv shim can exist without 3.10 being selected, so test that each candidate really runs.
  local candidates=()
  [ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
  candidates+=("$(command -v python3.10 || true)")
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.10*/bin/python3.10)
  fi
  candidates+=("$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  for py in "${candidates[@]}"; do
    [ -n "$py" ] && [ -x "$py" ] || continue
    if "$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      echo "$py"; return 0
    fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  if ! PY=$(find_python310); then
    cat >&2 <<'MSG'
ERROR: Python 3.10 was not found. Rasa 3.6 runs on Python 3.8 to 3.10 only; this project uses 3.10.
Install it, then run this command again, for example:
  pyenv install 3.10            (pyenv)
  apt-get install python3.10 python3.10-venv   (Debian/Ubuntu with a 3.10 package)
or point PYTHON310 at an existing interpreter: PYTHON310=/path/to/python3.10 make demo
MSG
    exit 1
  fi
  echo "==> Creating virtual environment $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

install_lock() {  # install_lock <lock file> <what it is>
  local lock=$1 stamp="$VENV/.installed-$1"
  if ! { [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; }; then
    echo "==> Installing $2 from $lock with hash checking (the first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on --require-hashes --no-deps -r "$lock"
    cp "$lock" "$stamp"
  fi
}

install_lock requirements.lock "the pinned dependencies"
if $DEV; then
  install_lock requirements-dev.lock "the test and contributor tooling"
fi
# Reinstalled when pyproject.toml changed: an editable install maps only the packages it knew of.
PROJECT_STAMP="$VENV/.installed-pyproject.toml"
if ! "$VENV/bin/python" -c 'import importlib.metadata as m; m.distribution("larkspur-support-bot")' >/dev/null 2>&1 \
    || ! cmp -s pyproject.toml "$PROJECT_STAMP"; then
  echo "==> Installing this project into $VENV (editable)"
  # setuptools warns about every editable install; its output is shown only when the install fails.
  if ! output=$("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1); then
    echo "$output" >&2
    exit 1
  fi
  cp pyproject.toml "$PROJECT_STAMP"
fi

# The website's chat widget (npm package rasa-webchat), served by the escalation service; with --dev also
# axe-core, which the browser tests use to check the pages' accessibility.
WEB=escalation/web
NPM_MODE=$($DEV && echo dev || echo runtime)
WEB_STAMP="$WEB/node_modules/.installed-lock-$NPM_MODE"
installed() { [ -f "$1" ] && cmp -s "$WEB/package-lock.json" "$1"; }
# The dev install holds everything the runtime one does: `make demo` after `make test` keeps it.
if ! installed "$WEB_STAMP" && ! { ! $DEV && installed "$WEB/node_modules/.installed-lock-dev"; }; then
  if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<'MSG'
ERROR: npm was not found. The website's chat widget (rasa-webchat) is installed with npm.
Install Node.js 18 or newer (e.g. apt-get install nodejs npm), then run this command again.
MSG
    exit 1
  fi
  echo "==> Installing the chat widget$($DEV && echo ' and the accessibility checker') (npm ci in $WEB)"
  # --ignore-scripts: only the packages' prebuilt bundles are used; no package build step runs.
  if $DEV; then
    (cd "$WEB" && npm ci --ignore-scripts --omit=peer --no-audit --no-fund --loglevel=error)
  else
    (cd "$WEB" && npm ci --ignore-scripts --omit=dev --omit=peer --no-audit --no-fund --loglevel=error)
  fi
  cp "$WEB/package-lock.json" "$WEB_STAMP"
fi
