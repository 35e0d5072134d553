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


def test_no_document_lists_the_same_item_twice():
    """A bullet that starts with a name (`$SPACEPORT_STAGE_COMMAND`, `--preset`) explains it once
    per list: two bullets for one name drift apart and one of them is wrong."""
    import re

    for path in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        seen: dict[str, int] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            item = re.match(r"\s*[-*] (`[^`]+`)", line)
            if item is None and not line.startswith((" ", "-", "*")):
                seen = {}  # a paragraph or heading ends the list
            elif item is not None:
                name = item.group(1)
                assert name not in seen, f"{path.name}:{number} lists {name} again (line {seen[name]})"
                seen[name] = number
