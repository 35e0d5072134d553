"""Load `infra/template.yaml` (AWS SAM) into plain Python data, CloudFormation short tags included.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}` and every
other `!Tag value` becomes `{"Fn::Tag": value}`: the same shape the long JSON form has, so tests can
compare with either.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "infra" / "template.yaml"

_FUNCTION_TAGS = (
    "Base64",
    "Cidr",
    "Condition",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
)


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation's short-form intrinsic functions."""


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


def _function(name: str) -> Any:
    key = "Condition" if name == "Condition" else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _node_value(loader, node)}

    return construct


CfnLoader.add_constructor("!Ref", _ref)
CfnLoader.add_constructor("!GetAtt", _get_att)
for _name in _FUNCTION_TAGS:
    CfnLoader.add_constructor(f"!{_name}", _function(_name))


def parse(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON) with the short tags expanded."""
    loaded = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(loaded, dict):
        raise ValueError("a template must be a mapping")
    return loaded


@functools.cache
def _load_cached(path: str, mtime_ns: int) -> dict[str, Any]:
    return parse(Path(path).read_text(encoding="utf-8"))


def load(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template. Callers get a shared object: copy it before changing it."""
    return _load_cached(str(path), path.stat().st_mtime_ns)


def resources(template: dict[str, Any], resource_type: str | None = None) -> dict[str, dict[str, Any]]:
    """Logical id -> resource definition, optionally only of one type."""
    found = template.get("Resources", {})
    return {
        logical_id: definition
        for logical_id, definition in found.items()
        if resource_type is None or definition.get("Type") == resource_type
    }


def function_property(template: dict[str, Any], logical_id: str, name: str) -> Any:
    """A property of an AWS::Serverless::Function with SAM Globals applied (function wins)."""
    properties = template["Resources"][logical_id].get("Properties", {})
    if name in properties:
        own = properties[name]
        if name == "Environment":
            shared_vars = (
                template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
            )
            return {"Variables": {**shared_vars, **own.get("Variables", {})}}
        return own
    return template.get("Globals", {}).get("Function", {}).get(name)
