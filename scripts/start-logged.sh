#!/usr/bin/env bash
# start-logged.sh LOG COMMAND [ARGS...]: run COMMAND with stdout and stderr APPENDED to LOG,
# after a start marker line. A restarted service must never wipe the log of the run that
# crashed (issue 13): scripts/run.sh starts every service through this.
set -euo pipefail
log="$1"; shift
mkdir -p "$(dirname "$log")"
printf '=== %s start pid=%s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >>"$log"
exec "$@" >>"$log" 2>&1
