#!/usr/bin/env bash
# The browser tests drive Debian's Chromium with Playwright (never a downloaded browser).
# Installs the `chromium` package when it is missing and this user may; otherwise says how.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> Installing Chromium for the browser tests (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  exit 0
fi
cat >&2 <<MSG
ERROR: Chromium was not found at $CHROMIUM; the browser tests need it.
Install Debian's package (sudo apt-get install chromium), or point CHROMIUM_PATH at a Chromium binary.
MSG
exit 1
