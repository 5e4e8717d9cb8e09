# One image definition for every service, built from the repository root:
#   docker build --build-arg SERVICE=ingestion -t territory-engine/ingestion .
# Dependencies are installed before the code is copied, so a code change rebuilds only
# the last layers. The final stage has the virtualenv and the few data files only (no uv,
# no build tools) and runs as an unprivileged user.
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
ARG SERVICE
COPY pyproject.toml uv.lock README.md ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/ingestion/pyproject.toml services/ingestion/pyproject.toml
COPY services/dedupe/pyproject.toml services/dedupe/pyproject.toml
COPY services/rules/pyproject.toml services/rules/pyproject.toml
COPY services/loader/pyproject.toml services/loader/pyproject.toml
COPY services/api/pyproject.toml services/api/pyproject.toml
RUN test -n "${SERVICE}" || { echo "--build-arg SERVICE=<api|ingestion|dedupe|rules|loader>"; exit 1; }
RUN uv sync --frozen --no-dev --no-install-workspace --package "territory-${SERVICE}"
COPY shared shared
COPY services services
COPY data/sample data/sample
COPY deploy/snowflake deploy/snowflake
RUN uv sync --frozen --no-dev --no-editable --package "territory-${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ENV SERVICE=${SERVICE} PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 \
    TERRITORY_ENVIRONMENT=production TERRITORY_LOG_JSON=true
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/data/sample /app/data/sample
COPY --from=build /app/deploy/snowflake /app/deploy/snowflake
COPY deploy/docker/healthcheck.py /app/healthcheck.py
RUN groupadd --gid 10001 territory \
    && useradd --uid 10001 --gid 10001 --no-create-home territory \
    && mkdir -p /app/var /app/spool && chown 10001:10001 /app/var /app/spool
USER 10001:10001
# Each service listens on its own port (api 8000, ingestion 8001, dedupe 8002, rules 8003,
# loader 8004) and answers /healthz, /readyz and /metrics there.
EXPOSE 8000 8001 8002 8003 8004
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "/app/healthcheck.py", "/healthz"]
CMD ["sh", "-c", "exec python -m territory.${SERVICE}"]
