#!/usr/bin/env bash
# Run a command with the services the tests need (Kafka, PostgreSQL), starting only what is not
# already running, and stopping afterwards only what this script started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=()
cleanup() {
  for svc in "${started[@]}"; do "$root/scripts/$svc.sh" down || true; done
}
trap cleanup EXIT
if ! "$root/scripts/kafka.sh" status >/dev/null 2>&1; then
  "$root/scripts/kafka.sh" up
  started+=(kafka)
fi
if ! "$root/scripts/postgres.sh" status >/dev/null 2>&1; then
  "$root/scripts/postgres.sh" up
  started+=(postgres)
fi
"$root/scripts/ensure-kcat.sh"
"$@"
