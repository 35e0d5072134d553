"""Messages that work when pasted: commands spelled with the executable the user ran (and
`--data-dir` when it is not the default), and validation errors as one sentence per field."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODULE_ENTRY = "spaceport.cli"


def _shortest(path: str) -> str:
    """`path` relative to the working directory when it lies under it, else absolute."""
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def invoked_program(argv0: str | None = None) -> str:
    """How to start spaceport again the way the user did.

    `.venv/bin/spaceport` stays as typed unless `spaceport` on PATH is the same file;
    `python -m spaceport.cli` keeps the interpreter; anything else (a test harness) is `spaceport`.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = Path(argv0).name
    if name == "spaceport":
        on_path = shutil.which("spaceport")
        if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
            return "spaceport"
        return shlex.quote(argv0 if os.sep in argv0 else _shortest(argv0))
    if Path(argv0).as_posix().endswith("spaceport/cli.py"):
        return f"{shlex.quote(_shortest(sys.executable))} -m {MODULE_ENTRY}"
    return "spaceport"


def is_default_data_dir(data_dir: Path) -> bool:
    from spaceport.runtime import default_data_dir

    return Path(data_dir).expanduser().resolve() == default_data_dir().expanduser().resolve()


def command_hint(data_dir: Path | None, *words: str) -> str:
    """`<program> <words...> [--data-dir DIR]`, ready to paste."""
    parts = [invoked_program(), *(shlex.quote(word) for word in words)]
    if data_dir is not None and not is_default_data_dir(data_dir):
        parts += ["--data-dir", shlex.quote(str(Path(data_dir).expanduser().resolve()))]
    return " ".join(parts)


_REASONS: dict[str, str] = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "string_pattern_mismatch": "has characters that are not allowed",
    "missing": "is required",
    "extra_forbidden": "is not a known setting",
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"]).rstrip(".")
    template = _REASONS.get(kind)
    if template is not None:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is not valid")).rstrip(".")
    return message[:1].lower() + message[1:]


def validation_sentences(errors: list[Mapping[str, Any]], flags: Mapping[str, str] | None = None) -> list[str]:
    """Pydantic's `exc.errors()` as one plain sentence per field, naming the command-line flag
    (`flags` maps field names to flags; default `--field-name`). No URLs, no error codes."""
    sentences: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        field = loc[-1] if loc else "value"
        flag = (flags or {}).get(field, "--" + field.replace("_", "-"))
        given, reason = error.get("input"), _reason(error)
        hide = error.get("type") in ("missing", "extra_forbidden") or isinstance(given, dict) or repr(given) in reason
        sentences.setdefault(flag, f"{flag}{'' if hide else f' {given}'}: {reason}.")
    return list(sentences.values())
