#!/usr/bin/env bash
# kcat (a Kafka client the team did not write) for the fault suite and operators' probes:
# installed from Debian when missing (elsewhere: https://github.com/edenhill/kcat).
exec "$(dirname "${BASH_SOURCE[0]}")/ensure-deb.sh" kcat kcat kafkacat
