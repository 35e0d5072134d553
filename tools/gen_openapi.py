"""Write docs/openapi.json from the ingest API's routes and models (Powertools generates it).

    .venv/bin/python tools/gen_openapi.py
"""

from __future__ import annotations

import json
from pathlib import Path

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def openapi_document() -> dict:
    from services.ingest.handler import app

    return json.loads(app.get_openapi_json_schema(title="Spaceport API", version="1.0.0"))


if __name__ == "__main__":
    OPENAPI_PATH.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {OPENAPI_PATH}")
