#!/usr/bin/env bash
# valgrind, for the dedupe engine benchmark's instruction counts (bench/bench_engine.py):
# installed from Debian when missing. Does nothing when valgrind is already on the PATH.
set -euo pipefail
command -v valgrind >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "valgrind: installing from Debian (apt-get install valgrind)"
  $sudo apt-get install -y -q valgrind >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q valgrind >/dev/null; }
else
  echo "valgrind: not installed and no apt-get; the engine benchmark counts no instructions" >&2
fi
