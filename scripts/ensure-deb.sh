#!/usr/bin/env bash
# Install a Debian package when none of the commands it provides is on the PATH:
#   scripts/ensure-deb.sh PACKAGE COMMAND [COMMAND...]
# Exits 0 when one of the commands is there or the install worked; otherwise non-zero,
# saying why.
set -euo pipefail
package="$1"
shift
for command in "$@"; do
  command -v "$command" >/dev/null 2>&1 && exit 0
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$package: not installed, and no apt-get to install it with" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "$package: installing from Debian (apt-get install $package)"
$sudo apt-get install -y -q "$package" >/dev/null 2>&1 ||
  { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$package" >/dev/null; }
