#!/usr/bin/env bash
# `make run`: Kafka and every service with embedded defaults, the sample data loaded.
#   scripts/run.sh          start, load the sample data, print where to look, wait (Ctrl-C stops)
#   scripts/run.sh stop     stop the services (and Kafka, if `make run` started it)
# RUN_DETACH=1 returns after loading instead of waiting. SAMPLE=path loads another CSV
# (e.g. a bigger generated file: data/sample/generate.py --organisations 20000 -o FILE).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
state="$root/var/run"
logs="$root/var/log"
mkdir -p "$state" "$logs"
bin="$root/.venv/bin"
export TERRITORY_LOG_JSON="${TERRITORY_LOG_JSON:-true}"

# name | command | health URL
SERVICES=(
  "ingestion|$bin/python -m territory.ingestion|http://127.0.0.1:${TERRITORY_INGESTION__PORT:-8001}/readyz"
  "rules|$bin/python -m territory.rules|http://127.0.0.1:${TERRITORY_RULES__PORT:-8003}/readyz"
  "loader|$bin/python -m territory.loader|http://127.0.0.1:${TERRITORY_LOADER__PORT:-8004}/readyz"
  "dedupe|$bin/python -m territory.dedupe|http://127.0.0.1:${TERRITORY_DEDUPE__PORT:-8002}/readyz"
  "api|$bin/python -m territory.api|http://127.0.0.1:${TERRITORY_API__PORT:-8000}/readyz"
)

stop_all() {
  for pidfile in "$state"/*.pid; do
    [ -e "$pidfile" ] || continue
    name="$(basename "$pidfile" .pid)"
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" && echo "stopped $name"; fi
    rm -f "$pidfile"
  done
  if [ -f "$state/kafka.started" ]; then scripts/kafka.sh down; rm -f "$state/kafka.started"; fi
}

if [ "${1:-}" = "stop" ]; then stop_all; exit 0; fi

wait_ready() {
  local name="$1" url="$2"
  for _ in $(seq 1 120); do
    if curl -fsS "$url" >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$state/$name.pid")" 2>/dev/null || { tail -20 "$logs/$name.log" >&2; echo "$name exited" >&2; exit 1; }
    sleep 0.5
  done
  echo "$name did not become ready at $url (log: $logs/$name.log)" >&2; exit 1
}

if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh up
  touch "$state/kafka.started"
fi
"$bin/territory" topics create >/dev/null 2>&1
# The dashboard: built once into frontend/dist (again only when a source is newer), served
# by the API at /. Without Node.js the API still runs and / says how to build it.
scripts/frontend.sh build || echo "the dashboard was not built (Node.js 20.19+ and npm needed): the API runs without it" >&2
"$bin/territory" warehouse migrate   # the embedded warehouse (var/warehouse.db) unless TERRITORY_WAREHOUSE_URL says otherwise

for spec in "${SERVICES[@]}"; do
  IFS='|' read -r name cmd url <<<"$spec"
  if [ -f "$state/$name.pid" ] && kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
    echo "$name already running"; continue
  fi
  # Appended, after a start marker: a restart keeps the previous run's crash evidence.
  nohup scripts/start-logged.sh "$logs/$name.log" $cmd >/dev/null 2>&1 &
  echo $! >"$state/$name.pid"
  wait_ready "$name" "$url"
  echo "✓ $name ready ($url)"
done

sample="${SAMPLE:-data/sample/clients.csv}"
[ -f data/sample/clients.csv ] || "$bin/python" data/sample/generate.py
[ -f "$sample" ] || { echo "SAMPLE=$sample: no such file" >&2; exit 2; }
rows=$(($(wc -l <"$sample") - 1))
echo "loading $sample ($rows rows) through the ingestion service…"
curl -fsS -X POST --data-binary @"$sample" -H 'content-type: text/csv' \
  "http://127.0.0.1:${TERRITORY_INGESTION__PORT:-8001}/v1/uploads?filename=$(basename "$sample")" \
  | "$bin/python" -c 'import json, sys; r = json.load(sys.stdin); print("  accepted", r["accepted"], "rejected", r["rejected"], r["rejected_by_reason"])'
echo "waiting for the records to flow through dedupe, rules and the loader…"
SETTLE_SECONDS=$((180 + rows / 50)) "$bin/python" - <<'PY'
import asyncio, os, time
from territory.shared.broker import group_lag, topic_message_counts
from territory.shared.settings import ServiceSettings

GROUPS = ("territory-dedupe", "territory-rules", "territory-loader")


async def settle() -> None:
    """Until every service's consumer group has committed everything on its topics (and
    the topics stopped growing), with the lag printed every 5 s; a time limit, not a hang."""
    kafka = ServiceSettings().kafka
    started = time.monotonic()
    deadline = started + int(os.environ["SETTLE_SECONDS"])
    last, quiet, shown = None, 0, 0.0
    while time.monotonic() < deadline and quiet < 3:
        counts = await topic_message_counts(kafka)
        lags = await group_lag(kafka, GROUPS)
        done = counts == last and all(v == 0 for v in lags.values())
        quiet = quiet + 1 if done else 0
        last = counts
        if time.monotonic() - shown >= 5:
            shown = time.monotonic()
            behind = ", ".join(f"{g.removeprefix('territory-')} {v:,}" for g, v in lags.items())
            print(f"  {shown - started:4.0f} s  not yet processed: {behind}", flush=True)
        await asyncio.sleep(1)
    if quiet < 3:
        print("  still flowing after the wait: the dashboard fills in as it goes", flush=True)


asyncio.run(settle())
PY
"$bin/territory" topics stats
"$bin/territory" warehouse status 2>/dev/null | sed -n '/rows per table/,$p' || true

api="http://127.0.0.1:${TERRITORY_API__PORT:-8000}"
token="$("$bin/territory" token --role TERRITORY_ADMIN --subject admin@territory.local)"

cat <<EOF

Territory Engine is running.
  Dashboard       $api/   (development sign-in: pick a role and regions)
  API             $api/docs   (Authorize with the token below)
  Dev token       export TOKEN=$token
                  (8 h, TERRITORY_ADMIN; others: territory token --role SALES_LEADERSHIP --region EMEA)
  Try             curl -H "Authorization: Bearer \$TOKEN" $api/api/summary
  Ingestion API   http://127.0.0.1:${TERRITORY_INGESTION__PORT:-8001}/docs
  Rules API       http://127.0.0.1:${TERRITORY_RULES__PORT:-8003}/docs   (active ruleset, preview)
  Kafka           127.0.0.1:9092   (territory topics stats)
  Warehouse       ${TERRITORY_WAREHOUSE_URL:-sqlite:///var/warehouse.db}   (territory warehouse status)
  Dedupe          http://127.0.0.1:${TERRITORY_DEDUPE__PORT:-8002}/docs   (AsyncAPI; /metrics)
  Loader          http://127.0.0.1:${TERRITORY_LOADER__PORT:-8004}/docs   (AsyncAPI; /metrics)
  Logs            $logs/
  Ingest a file   .venv/bin/territory ingest file data/sample/clients.csv
  Stop            make stop   (or Ctrl-C here)
EOF

if [ "${RUN_DETACH:-0}" != "1" ]; then
  trap 'echo; stop_all; exit 0' INT TERM
  while true; do sleep 3600 & wait $!; done
fi
