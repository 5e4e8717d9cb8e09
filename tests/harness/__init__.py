"""Black-box harness for the fault suite (tests/fault) and the end-to-end benchmark
(bench/bench_e2e.py): services as processes, Kafka and the warehouse read from outside.

Modules: `stack` (processes, readiness, kill -9, restart, extra instances), `kafka` (lag,
topic sizes, raw publish/read, kcat, a broker of one's own), `proxy` (warehouse outage),
`sampler` (CPU, peak RSS, lag over time), `reconcile` (the reconciliation report),
`workload` (realistic records, waits), `poison` (malformed and hostile inputs).
"""
