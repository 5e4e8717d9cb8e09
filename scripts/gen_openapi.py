"""Write the API's OpenAPI document for the dashboard's generated client.

    python scripts/gen_openapi.py frontend/openapi.json     # write it
    python scripts/gen_openapi.py --check frontend/openapi.json   # exit 1 when it drifted

The document is the FastAPI app's own (development settings, no runtime needed), written
with sorted keys so a diff shows only what the API changed. `make client` runs this and
then `@hey-api/openapi-ts`, which turns it into `frontend/src/client/`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from territory.api.app import create_app
from territory.api.settings import ApiSettings


def document() -> dict[str, Any]:
    app = create_app(ApiSettings(environment="development"), manage_runtime=False)
    return app.openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    target = Path(paths[0] if paths else "frontend/openapi.json")
    text = render()
    if check:
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is out of date: run `make client`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
