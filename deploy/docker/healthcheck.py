"""The image's HEALTHCHECK: GET /healthz on the service's own port, exit 0 when it answers 200.

Standard library only and no import of the service, so a check every few seconds costs
a few milliseconds. The port is the service's `TERRITORY_<SERVICE>__PORT`, else its default
(kept equal to the settings models' defaults by deploy/tests).
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_PORTS = {"api": 8000, "ingestion": 8001, "dedupe": 8002, "rules": 8003, "loader": 8004}


def port(env: dict[str, str]) -> int:
    service = env["SERVICE"]
    return int(env.get(f"TERRITORY_{service.upper()}__PORT") or DEFAULT_PORTS[service])


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    url = f"http://127.0.0.1:{port(dict(os.environ))}{path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
