#!/usr/bin/env bash
# Apache Kafka 4.x (KRaft, single node) from Maven Central jars, run with `java -cp`.
#   scripts/kafka.sh up      fetch jars once, format storage once, start, wait until it answers
#   scripts/kafka.sh down    stop the broker this script started
#   scripts/kafka.sh status  exit 0 when a broker answers on the port
# Idempotent: `up` with a broker already answering does nothing; `down` without one does nothing.
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HOME (.cache/kafka).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-9093}"
home="${KAFKA_HOME:-$root/.cache/kafka}"
libs="$home/libs"
data="$home/data-$port"
pidfile="$home/kafka-$port.pid"
logfile="$home/kafka-$port.log"
props="$home/server-$port.properties"

die() { echo "kafka: $*" >&2; exit 1; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

fetch() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch the Kafka jars from Maven Central; install it (apt-get install maven)"
  echo "kafka: fetching broker jars from Maven Central into $libs (once)"
  mkdir -p "$libs"
  mvn -B -q -f "$root/deploy/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" || die "Maven could not fetch the Kafka jars (see the output above)"
  touch "$libs/.complete"
}

up() {
  command -v java >/dev/null || die "Java 17+ is needed to run the broker; install it (apt-get install openjdk-17-jre-headless)"
  if answers; then echo "kafka: already answering on 127.0.0.1:$port"; return 0; fi
  fetch
  mkdir -p "$home"
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" -e "s#@DATA_DIR@#$data#g" \
    "$root/deploy/kafka/server.properties.in" > "$props"
  local cp="$libs/*"
  if [ ! -f "$data/meta.properties" ]; then
    rm -rf "$data"
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid)"
    java -cp "$cp" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$props" >/dev/null
  fi
  echo "kafka: starting broker on 127.0.0.1:$port (log: $logfile)"
  nohup java -Xms512m -Xmx1g -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$root/deploy/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$props" >"$logfile" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$logfile" 2>/dev/null && answers; then
      echo "kafka: ready on 127.0.0.1:$port"; return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -30 "$logfile" >&2; die "broker exited during start-up"; }
    sleep 0.5
  done
  tail -30 "$logfile" >&2; die "broker did not answer within 60 s"
}

down() {
  if [ -f "$pidfile" ]; then
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      echo "kafka: stopped (pid $pid)"
    fi
    rm -f "$pidfile"
  else
    echo "kafka: no broker started by this script on port $port"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers && echo "kafka: answering on 127.0.0.1:$port" || { echo "kafka: not answering on 127.0.0.1:$port"; exit 1; } ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
