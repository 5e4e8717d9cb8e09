#!/usr/bin/env bash
# The dashboard's toolchain, for the Makefile:
#   scripts/frontend.sh deps      npm ci when package-lock.json changed (or node_modules is missing)
#   scripts/frontend.sh build     build frontend/dist when a source is newer than the bundle
#   scripts/frontend.sh client    regenerate frontend/openapi.json and frontend/src/client
#   scripts/frontend.sh check     fail when the committed client drifted; tsc, eslint, vitest
#   scripts/frontend.sh chromium  install Debian's chromium when it is missing (root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fe="$root/frontend"
py="$root/.venv/bin/python"

need_node() {
  command -v node >/dev/null || { echo "Node.js 20.19+ and npm are needed for the dashboard" >&2; exit 1; }
}

deps() {
  need_node
  local stamp="$fe/node_modules/.installed"
  if [ ! -f "$stamp" ] || [ "$fe/package-lock.json" -nt "$stamp" ]; then
    (cd "$fe" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

build() {
  deps
  local index="$fe/dist/index.html"
  if [ -f "$index" ] && [ -z "$(find "$fe/src" "$fe/index.html" "$fe/public" "$fe/package-lock.json" \
        "$fe/vite.config.ts" -newer "$index" -print -quit)" ]; then
    return 0
  fi
  echo "building the dashboard (frontend/dist)…"
  (cd "$fe" && npm run build --silent >/dev/null)
}

client() {
  deps
  "$py" "$root/scripts/gen_openapi.py" "$fe/openapi.json"
  (cd "$fe" && npx openapi-ts >/dev/null)
  echo "regenerated frontend/src/client from frontend/openapi.json"
}

check() {
  deps
  "$py" "$root/scripts/gen_openapi.py" --check "$fe/openapi.json"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$fe" && OPENAPI_TS_OUT="$tmp/client" npx openapi-ts >/dev/null)
  if ! diff -r "$tmp/client" "$fe/src/client" >/dev/null; then
    echo "frontend/src/client differs from what frontend/openapi.json generates: run \`make client\`" >&2
    exit 1
  fi
  (cd "$fe" && npx tsc -b --noEmit && npx eslint . --max-warnings=0 && npx vitest run --reporter=dot)
}

chromium() {
  # type -P: the executable on PATH (`command -v` would find this very function).
  if type -P chromium >/dev/null || [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
  else
    echo "Debian's chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1
  fi
}

"${1:?deps|build|client|check|chromium}"
