"""Validate parsed config files against the JSON Schemas in schemas/, with positioned diagnostics."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

from dmsctl.compiler.data import schemas_dir
from dmsctl.compiler.diagnostics import Diagnostic
from dmsctl.compiler.yamlsource import SourceDoc

SCHEMA_DIR = schemas_dir()
SCHEMA_FILES = {"base": "base.schema.json", "team": "team.schema.json"}


@cache
def _registry() -> Registry:
    resources = []
    for filename in SCHEMA_FILES.values():
        contents = json.loads((SCHEMA_DIR / filename).read_text())
        resource = Resource.from_contents(contents)
        resources.append((filename, resource))
        resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


@cache
def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, report the branch that got furthest instead of 'is not valid under any'."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Prefer errors from the branch whose type matched (deepest path wins).
        best = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if best.validator == "type" and len(best.absolute_path) == len(error.absolute_path):
            return [error]
        return _leaf_errors(best)
    return [error]


def _where(path: Sequence[str | int]) -> str:
    parts: list[str] = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "<file>"


def _subschema(error: ValidationError) -> Mapping[str, Any]:
    """The schema object the error is about (jsonschema's types also allow a boolean schema, or unset)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _diagnostic(doc: SourceDoc, error: ValidationError) -> Diagnostic:
    path = tuple(error.absolute_path)
    where = _where(path)
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(_subschema(error).get("properties", {}))
        extras = [k for k in (error.instance if isinstance(error.instance, dict) else {}) if k not in allowed]
        extra = extras[0] if extras else "?"
        hint = difflib.get_close_matches(extra, allowed, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        pos = doc.key_pos(path + (extra,))
        return Diagnostic.at("E103", f"unknown field '{extra}' in {where}{suggestion}", pos)
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return Diagnostic.at("E105", f"{where}: missing required field '{missing}'", doc.pos(path))
    # jsonschema reports a propertyNames failure as the failing sub-rule (pattern, maxLength) with the
    # parent object's path and the bad name as instance: point at that key, not at the object.
    if v == "propertyNames" or (len(error.schema_path) >= 2 and error.schema_path[-2] == "propertyNames"):
        bad = error.instance
        pos = doc.key_pos(path + (bad,)) if isinstance(bad, str) else doc.pos(path)
        return Diagnostic.at("E104", f"invalid name '{bad}' in {where}: {_describe_rule(error)}", pos)
    pos = doc.pos(path)
    instance = error.instance
    value = json.dumps(instance) if not isinstance(instance, (dict, list)) else type(instance).__name__
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return Diagnostic.at("E104", f"{where}: expected {expected}, got {value}", pos)
    if v == "enum":
        options = ", ".join(json.dumps(o) for o in
                            (error.validator_value if isinstance(error.validator_value, list) else []))
        return Diagnostic.at("E104", f"{where}: {value} is not one of {options}", pos)
    if v in ("minItems", "minProperties"):
        return Diagnostic.at("E104", f"{where}: must not be empty", pos)
    return Diagnostic.at("E104", f"{where}: {value} is invalid: {_describe_rule(error)}", pos)


def _describe_rule(error: ValidationError) -> str:
    v, val = error.validator, error.validator_value
    if v == "propertyNames":
        sub = error.context[0] if error.context else None
        if sub is not None:
            return _describe_rule(sub)
    if v == "pattern":
        desc = _subschema(error).get("description", "")
        return f"must match {val}" + (f" ({desc})" if desc else "")
    if v == "maxLength":
        return f"longer than {val} characters"
    if v in ("minimum", "maximum"):
        return f"{'below' if v == 'minimum' else 'above'} the {v} {val}"
    if v == "uniqueItems":
        return "has duplicate items"
    return error.message


def check_schema(doc: SourceDoc, kind: str) -> list[Diagnostic]:
    """All schema violations in one document, as positioned diagnostics."""
    if not isinstance(doc.data, dict):
        got = "an empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        return [Diagnostic.at("E106", f"expected a mapping of {kind} settings, got {got}", doc.pos(()))]
    diags = []
    for error in validator(kind).iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            diags.append(_diagnostic(doc, leaf))
    return diags
