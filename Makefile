# Territory Engine — the interface a newcomer sees:
#   make run        everything up with embedded defaults and sample data
#   make test       install, start Kafka, lint, types and every test; stops what it started
#   make kafka-up / make kafka-down
#   make bench      benchmarks -> docs/benchmarks.md
#   make chaos      the fault suite at full size -> docs/reliability.md
#   make frontend   build the dashboard (frontend/dist); make client regenerates its API client
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: install kafka-up kafka-down lint types test test-all run stop reset bench chaos asyncapi sample clean \
	frontend frontend-deps frontend-check client chromium screenshots

install: .venv/.installed

.venv/.installed: pyproject.toml uv.lock shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@command -v uv >/dev/null || command -v $(UV) >/dev/null || { echo "installing uv (pip)"; python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv; }
	@$$(command -v uv || echo $(UV)) sync --frozen --all-packages
	@touch $@

kafka-up:
	@scripts/kafka.sh up

kafka-down:
	@scripts/kafka.sh down

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

types: install
	.venv/bin/mypy

# Unit and integration tests in one run; the real broker is started when none answers
# and stopped afterwards only if this target started it.
test: install frontend-deps
	@scripts/test-tools.sh
	@scripts/with-services.sh $(MAKE) --no-print-directory lint types frontend-check frontend chromium test-all

test-all:
	$(PY) -m pytest -q -ra

run: install
	@scripts/run.sh

stop:
	@scripts/run.sh stop

# Start from nothing: stops the services and the local broker, then deletes the embedded
# warehouse, the archive and the broker's data (topics and consumer offsets go together
# with the warehouse, or the loader would resume past events the new warehouse never saw).
reset:
	@scripts/run.sh stop
	@scripts/kafka.sh down
	rm -rf var .cache/kafka/data-* .cache/kafka/server-*.properties

bench: install
	@$$(command -v uv || echo $(UV)) sync --frozen --all-packages --group bench >/dev/null
	@scripts/ensure-deb.sh valgrind valgrind || echo "valgrind: missing; the engine benchmark counts no instructions"
	@scripts/with-services.sh $(PY) bench/run.py
	@rm -f .venv/.installed

# The fault suite (tests/fault) at full size (CHAOS_* variables: see scripts/chaos.py);
# writes docs/reliability.md with the reconciliation of every case.
chaos: install
	@scripts/with-services.sh $(PY) scripts/chaos.py

# The dashboard (frontend/): npm ci from package-lock.json, built into frontend/dist, which
# the API serves at /. `make client` regenerates frontend/openapi.json and the generated
# API client (frontend/src/client) after an API change; frontend-check fails when they drift.
frontend-deps:
	@scripts/frontend.sh deps

frontend: install
	@scripts/frontend.sh build

frontend-check: install
	@scripts/frontend.sh check

client: install
	@scripts/frontend.sh client

chromium:
	@scripts/frontend.sh chromium

# The browser test alone: it refreshes docs/screenshots (the README's gallery).
screenshots: install frontend chromium
	@scripts/with-services.sh $(PY) -m pytest -q tests/e2e/test_dashboard.py

asyncapi: install
	$(PY) scripts/gen_asyncapi.py docs/asyncapi

sample: install
	$(PY) data/sample/generate.py

clean:
	rm -rf .venv var .mypy_cache .ruff_cache
