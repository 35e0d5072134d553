"""Documents that scripts and people rely on stay true to the code."""

import json
from pathlib import Path

from shared.events import EVENT_TYPES
from tools.gen_openapi import OPENAPI_PATH, openapi_document

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_events_doc_names_every_event_and_field():
    text = (DOCS / "events.md").read_text()
    for name, model in EVENT_TYPES.items():
        assert f"`{name}`" in text
        for field in model.model_fields:
            assert f"`{field}`" in text, f"{name}.{field} missing from docs/events.md"


def test_openapi_document_is_current():
    assert json.loads(OPENAPI_PATH.read_text()) == openapi_document(), "run tools/gen_openapi.py"


def test_openapi_documents_all_routes():
    paths = openapi_document()["paths"]
    assert set(paths["/jobs"]) == {"get", "post"}
    assert set(paths["/jobs/{job_id}"]) == {"get", "delete"}
    assert set(paths["/links/{token}"]) == {"get"}
