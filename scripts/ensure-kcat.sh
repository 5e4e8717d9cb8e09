#!/usr/bin/env bash
# kcat (a Kafka client the team did not write) for the fault suite and operators' probes:
# installed from Debian when missing. Does nothing when kcat is already on the PATH.
set -euo pipefail
command -v kcat >/dev/null 2>&1 && exit 0
command -v kafkacat >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "kcat: installing from Debian (apt-get install kcat)"
  $sudo apt-get install -y -q kcat >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q kcat >/dev/null; }
else
  echo "kcat: not installed and no apt-get; install kcat (https://github.com/edenhill/kcat)" >&2
  exit 1
fi
