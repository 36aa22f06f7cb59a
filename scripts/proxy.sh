#!/usr/bin/env bash
# `make demo-scaled` puts nginx (Debian's package) in front of the Rasa replicas and the service
# processes. Installs `nginx` when it is missing and this user may; otherwise says how. The project
# runs its own nginx (config, pid and logs under var/), never the system's service.
set -euo pipefail
NGINX=${NGINX_PATH:-/usr/sbin/nginx}
if [ -x "$NGINX" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> Installing nginx for the scaled configuration (apt-get install nginx)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q nginx >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q nginx >/dev/null; }
  exit 0
fi
cat >&2 <<MSG
ERROR: nginx was not found at $NGINX; make demo-scaled runs the Rasa replicas and service processes behind it.
Install Debian's package (sudo apt-get install nginx), or point NGINX_PATH at an nginx binary.
MSG
exit 1
