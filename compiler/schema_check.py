"""Validate parsed config files against the JSON Schemas in schemas/, with positioned diagnostics.

The schemas are JSON Schema 2020-12, whose `pattern` is an ECMA-262 regular expression: there `$`
matches only at the very end, while Python's `$` also matches before a final newline (so
`"payments_0\\n"` would pass `^[a-z0-9_]+$`). The validator here evaluates patterns with ECMA's `$`
(`ecma_pattern`), and checks `uniqueItems` in linear time (jsonschema's own check is quadratic for
lists it cannot sort), reporting where the first copy is. Messages say what a value must be, in words:
each schema `pattern` carries a `patternErrorMessage` (the editor convention) that is shown instead of
the regular expression. A valid file is recognised by the compiled yes/no check of fast_schema.py;
jsonschema only walks the files that check rejects, to say why.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from dmsctl.compiler.data import schemas_dir
from dmsctl.compiler.diagnostics import Diagnostic
from dmsctl.compiler.fast_schema import canonical, checker
from dmsctl.compiler.yamlsource import SourceDoc

if TYPE_CHECKING:  # jsonschema is imported on first need: a valid tree never needs it (the fast check says so)
    from jsonschema import ValidationError
    from referencing import Registry

SCHEMA_DIR = schemas_dir()
SCHEMA_FILES = {"base": "base.schema.json", "team": "team.schema.json", "settings": "task-settings.schema.json",
                "acknowledgements": "acknowledgements.schema.json"}
ENV_NAME_PATTERN = "^[a-z][a-z0-9-]{0,31}$"
LONG_ENUM = 8  # enums longer than this are shown grouped (dms.t3.{micro,small}) with a suggestion


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled for Python with ECMA-262's `$` (end of input only): `$` outside a character
    class becomes `\\Z`."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append("\\Z" if c == "$" and not in_class else c)
        i += 1
    return re.compile("".join(out))


_canonical = canonical  # one JSON-equality form, shared with the fast check


@cache
def _machinery() -> SimpleNamespace:
    """jsonschema's validator, extended with ECMA-262 patterns and a linear-time uniqueItems, and the error
    type of a duplicate; built on first use (importing jsonschema costs about a tenth of a second)."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    class DuplicateItem(ValidationError):
        """A uniqueItems failure at the second copy; `first` is the index of the first one."""

        def __init__(self, message: str, index: int, first: int):
            super().__init__(message, path=(index,))
            self.first = first

    def pattern(validator: Any, patrn: str, instance: object, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if validator.is_type(instance, "string") and not ecma_pattern(patrn).search(str(instance)):
            yield ValidationError("does not have the required form")

    def unique_items(validator: Any, unique: bool, instance: object, schema: Mapping[str, Any]) \
            -> Iterator[ValidationError]:
        if not unique or not isinstance(instance, list):
            return
        seen: dict[object, int] = {}
        for index, item in enumerate(instance):
            first = seen.setdefault(_canonical(item), index)
            if first != index:
                yield DuplicateItem("is listed twice", index, first)

    extended = validators.extend(Draft202012Validator, {"pattern": pattern, "uniqueItems": unique_items})
    return SimpleNamespace(Validator=extended, DuplicateItem=DuplicateItem, Draft202012Validator=Draft202012Validator)


def __getattr__(name: str) -> Any:
    """`_Validator` and `DuplicateItem` as module attributes, built on first use (PEP 562)."""
    if name == "_Validator":
        return _machinery().Validator
    if name == "DuplicateItem":
        return _machinery().DuplicateItem
    raise AttributeError(name)


def _schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text())


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources = []
    for kind, filename in SCHEMA_FILES.items():
        contents = _schema(kind)
        resource = Resource.from_contents(contents)
        resources.append((filename, resource))
        resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


@cache
def validator(kind: str) -> Any:
    """The validator of one schema: "base", "team" or "settings" (ReplicationTaskSettings)."""
    schema = _schema(kind)
    machinery = _machinery()
    machinery.Draft202012Validator.check_schema(schema)
    return machinery.Validator(schema, registry=_registry())


# --- words for values and rules ---------------------------------------------------------------------------

def visible(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes, so a message stays one
    readable line (other characters, é included, are shown as they are)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show(value: object) -> str:
    """A config value as a person would write it (JSON scalars; a mapping or list by its kind)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return '"' + visible(value).replace('"', '\\"') + '"'
    return json.dumps(value)


def _group(options: Sequence[object]) -> str:
    """Long enums grouped by prefix: dms.t3.{micro,small}, dms.r5.{large,xlarge}."""
    groups: dict[str, list[str]] = {}
    for o in options:
        head, _, tail = str(o).rpartition(".")
        groups.setdefault(head, []).append(tail)
    if len(groups) == len(options):
        return ", ".join(str(o) for o in options)
    return ", ".join(f"{head}.{{{','.join(tails)}}}" if head else ",".join(tails) for head, tails in groups.items())


def _range(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return f" of at most {high}" if high is not None else ""


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "null"}


def expected(schema: Mapping[str, Any]) -> str:
    """What a value matching `schema` is, in words ("an integer from 1 to 49", "one of "a", "b"")."""
    if "enum" in schema:
        options = schema["enum"]
        if "title" in schema:
            return f"a {schema['title']}"
        if len(options) > LONG_ENUM:
            return f"one of {_group(options)}"
        return "one of " + ", ".join(json.dumps(o, ensure_ascii=False) for o in options)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    words = []
    for t in types:
        word = _TYPE_WORDS.get(t, t)
        if t in ("integer", "number"):
            word += _range(schema)
        elif t == "string" and "patternErrorMessage" in schema:
            word = schema["patternErrorMessage"].removeprefix("must be ")
        elif t == "object" and schema.get("propertyNames", {}).get("pattern") == ENV_NAME_PATTERN:
            word = "a mapping from environment name to value"
        words.append(word)
    return " or ".join(words) or "a valid value"


def _quote_hint(doc: SourceDoc, path: tuple, instance: object, schema: Mapping[str, Any]) -> str:
    """`table: no` is false in YAML 1.1, `version: 0123` a number: say how to write the text."""
    types = schema.get("type", [])
    wants_text = "string" in ([types] if isinstance(types, str) else types) or \
        any(isinstance(o, str) for o in schema.get("enum", []))
    raw = doc.texts.get(path)
    if raw is None or not wants_text or isinstance(instance, str):
        return ""
    if raw == "":
        return "; the value is missing"
    number = raw == json.dumps(instance)
    if not _text_fits(raw, schema):  # quoting would not help: "2020" is no better a schema name than 2020
        return "" if number else f" (YAML reads {raw} as {json.dumps(instance)})"
    read_as = f"reads {raw} as a number" if number else f"reads {raw} as {json.dumps(instance)}"
    return f" (YAML {read_as}); write \"{raw}\" in quotes to mean the text"


def _text_fits(text: str, schema: Mapping[str, Any]) -> bool:
    """Would `text`, quoted, pass the string rules of `schema` (enum, pattern, length)?"""
    if "enum" in schema:
        return text in schema["enum"]
    pattern = schema.get("pattern")
    return (not isinstance(pattern, str) or bool(ecma_pattern(pattern).search(text))) and \
        schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", len(text))


# --- one diagnostic per schema error ----------------------------------------------------------------------

def _where(path: Sequence[str | int]) -> str:
    parts: list[str] = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{visible(p)}" if parts else visible(p)))
    return "".join(parts) or "the file"


def _subschema(error: ValidationError) -> Mapping[str, Any]:
    """The schema object the error is about (jsonschema's types also allow a boolean schema, or unset)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, report the branch that got furthest instead of 'is not valid under any'."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Prefer errors from the branch whose type matched (deepest path wins).
        best = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if best.validator == "type" and len(best.absolute_path) == len(error.absolute_path):
            return [error]
        return _leaf_errors(best)
    return [error]


def _settings_start(kind: str, path: tuple) -> int | None:
    """Index just after `settings` in tasks.<task>.settings...: where ReplicationTaskSettings begin."""
    if kind == "team" and len(path) >= 3 and path[0] == "tasks" and path[2] == "settings":
        return 3
    return None


def _unknown_fields(doc: SourceDoc, error: ValidationError, kind: str) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = _subschema(error)
    allowed = sorted(schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    start = _settings_start(kind, path)
    diags = []
    for extra in (k for k in instance if k not in allowed):
        hint = difflib.get_close_matches(extra, allowed, n=1)
        if start is None:
            listed = f"; allowed: {', '.join(allowed)}" if allowed else ""
            suggestion = f"; did you mean '{hint[0]}'?" if hint else listed
            place = f"in {_where(path)}" if path else "at the top of the file"
            diags.append(Diagnostic.at("E103", f"unknown field '{visible(extra)}' {place}{suggestion}",
                                       doc.key_pos(path + (extra,))))
            continue
        inside = path[start:]
        if not hint and not inside:  # a key written outside its section: FullLoadSettings.MaxFullLoadSubTasks
            nested = {key: f"{section}.{key}" for section, sub in sorted(schema.get("properties", {}).items())
                      for key in sub.get("properties", {})}
            hint = [nested[k] for k in difflib.get_close_matches(extra, list(nested), n=1)]
        dotted = ".".join(str(p) for p in inside + (extra,))
        suggestion = f"; did you mean '{'.'.join(str(p) for p in inside + (hint[0],))}'?" if hint else \
            f" (known in {_where(inside) if inside else 'settings'}: {', '.join(allowed)})"
        diags.append(Diagnostic.at("E211", f"task '{path[1]}': unknown task setting '{visible(dotted)}'{suggestion}",
                                   doc.key_pos(path + (extra,))))
    return diags


def _diagnostics(doc: SourceDoc, error: ValidationError, kind: str) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    where, v, schema, instance = _where(path), error.validator, _subschema(error), error.instance
    if v == "additionalProperties":
        return _unknown_fields(doc, error, kind)
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        message = f"{where}: missing required field '{missing}'" if path else \
            f"missing required field '{missing}' at the top of the file"
        return [Diagnostic.at("E105", message, doc.pos(path))]
    # jsonschema reports a propertyNames failure as the failing sub-rule (pattern, maxLength) with the
    # parent object's path and the bad name as instance: point at that key, not at the object.
    if v == "propertyNames" or (len(error.schema_path) >= 2 and error.schema_path[-2] == "propertyNames"):
        bad = instance
        pos = doc.key_pos(path + (bad,)) if isinstance(bad, str) else doc.pos(path)
        name = f"'{visible(bad)}'" if isinstance(bad, str) else show(bad)
        return [Diagnostic.at("E104", f"invalid name {name} in {where}: {_rule(error)}", pos)]
    if isinstance(error, _machinery().DuplicateItem):
        first = doc.pos(path[:-1] + (error.first,))
        index = path[-1]
        item = instance[index] if isinstance(instance, list) and isinstance(index, int) else instance
        return [Diagnostic.at("E104", f"{where}: {show(item)} is listed twice (first at line {first.line}): "
                              "remove one", doc.pos(path))]
    pos, value = doc.pos(path), show(instance)
    if v == "type":
        hint = _quote_hint(doc, path, instance, schema)
        return [Diagnostic.at("E104", f"{where}: expected {expected(schema)}, got {value}{hint}", pos)]
    if v in ("oneOf", "anyOf"):  # no branch got past its type: say what each would take
        branches = [e for e in error.context or () if len(e.relative_schema_path) and e.validator == "type"]
        options = " or ".join(dict.fromkeys(expected(_subschema(e)) for e in branches)) or "a valid value"
        hint = next((h for h in (_quote_hint(doc, path, instance, _subschema(e)) for e in branches) if h), "")
        return [Diagnostic.at("E104", f"{where}: expected {options}, got {value}{hint}", pos)]
    if v == "enum" and isinstance(instance, (list, dict)):  # a list or mapping where one word is meant
        return [Diagnostic.at("E104", f"{where}: expected {expected(schema)}, got {value}", pos)]
    if v == "enum":
        options = schema.get("enum", [])
        close = difflib.get_close_matches(str(instance), [str(o) for o in options], n=1) \
            if isinstance(instance, str) else []
        suggestion = f"; did you mean '{close[0]}'?" if close else ""
        hint = _quote_hint(doc, path, instance, schema)
        if len(options) > LONG_ENUM or "title" in schema:
            what = f"a {schema['title']}" if "title" in schema else "an allowed value"
            return [Diagnostic.at("E104", f"{where}: {value} is not {what}{suggestion}{hint} "
                                  f"(allowed: {_group(options)})", pos)]
        return [Diagnostic.at("E104", f"{where}: {value} is not {expected(schema)}{suggestion}{hint}", pos)]
    if v in ("minimum", "maximum"):
        return [Diagnostic.at("E104", f"{where}: {value} is out of range: must be {expected(schema)}", pos)]
    if v in ("minItems", "minProperties") and error.validator_value == 1:
        return [Diagnostic.at("E104", f"{where}: must not be empty", pos)]
    return [Diagnostic.at("E104", f"{where}: {value} is invalid: {_rule(error)}", pos)]


def _rule(error: ValidationError) -> str:
    """The rule a value breaks, in words."""
    v, val, schema = error.validator, error.validator_value, _subschema(error)
    if v == "pattern":
        text = schema.get("patternErrorMessage") or f"must have the form {schema.get('description', 'documented')}"
        bad = error.instance
        if isinstance(bad, str) and any(not c.isprintable() for c in bad):
            text += " (it contains a line break or another control character)"
        return text
    if v == "maxLength":
        return f"longer than {val} characters"
    if v == "minLength":
        return "must not be empty" if val == 1 else f"shorter than {val} characters"
    if v in ("minItems", "minProperties"):
        return f"needs at least {val} entries"
    if v == "const":
        return f"must be {json.dumps(val)}"
    return error.message


def check_schema(doc: SourceDoc, kind: str) -> list[Diagnostic]:
    """All schema violations in one document, as positioned diagnostics."""
    if not isinstance(doc.data, dict):
        got = "an empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        return [Diagnostic.at("E106", f"expected a mapping of {kind} settings, got {got}", doc.pos(()))]
    if checker(SCHEMA_FILES[kind])(doc.data):  # valid: the fast check is enough (fast_schema.py)
        return []
    diags = []
    for error in validator(kind).iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            diags.extend(_diagnostics(doc, leaf, kind))
    return diags
