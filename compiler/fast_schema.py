"""A yes/no JSON Schema check, compiled once into Python closures: the fast path of schema_check.

Almost every config file is valid, and jsonschema walks a valid file about as slowly as an invalid
one (it builds an error iterator at every keyword). `is_valid(kind, data)` answers only whether the
file is valid; schema_check calls jsonschema for the files it rejects, so every message still comes
from there. It covers exactly the keywords the schemas in schemas/ use, with JSON Schema 2020-12's
meaning (`integer` takes 2.0 but not true, enum compares 1 and 1.0 equal but not 1 and true,
`pattern` is ECMA-262's, `$ref` applies next to its siblings); a schema with any other validating
keyword is refused at compile time (UnsupportedSchema), so the two can only agree.
tests/compiler/test_fast_schema.py checks that they do, on every fixture and on generated trees.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from dmsctl.compiler.data import schemas_dir

Check = Callable[[Any], bool]

# Keywords that only annotate (never make an instance invalid).
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
                         "patternErrorMessage", "deprecated", "readOnly", "writeOnly"})
SUPPORTED = frozenset({"$ref", "type", "enum", "const", "properties", "additionalProperties", "required",
                       "propertyNames", "minProperties", "items", "minItems", "uniqueItems", "oneOf", "anyOf",
                       "pattern", "minLength", "maxLength", "minimum", "maximum"})


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this checker does not implement (use jsonschema alone)."""


def canonical(value: object) -> object:
    """A hashable form equal for JSON-equal values (1 == 1.0, true != 1, key order ignored)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, dict):
        return ("object", frozenset((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(canonical(v) for v in value))
    return (type(value).__name__, value)


def _is_integer(v: object) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _any(checks: list[Check]) -> Check:
    return lambda v: any(c(v) for c in checks)


def _exactly_one(checks: list[Check]) -> Check:
    return lambda v: sum(1 for c in checks if c(v)) == 1


class _Compiler:
    """Compiles the schemas of one directory; `$ref`s resolve by file name (or `$id`) and JSON pointer."""

    def __init__(self, documents: Mapping[str, dict[str, Any]]):
        self.documents = dict(documents)
        for doc in documents.values():
            if isinstance(doc, dict) and "$id" in doc:
                self.documents.setdefault(doc["$id"], doc)
        self.compiled: dict[tuple[str, str], Check] = {}

    def ref(self, base: str, ref: str) -> Check:
        """The check of `ref` seen from document `base`; compiled on first use (refs may be recursive)."""
        name, _, pointer = ref.partition("#")
        doc_name = name or base
        key = (doc_name, pointer)
        if key not in self.compiled:
            self.compiled[key] = lambda v: self.compiled[key](v)  # placeholder while compiling (recursion)
            self.compiled[key] = self.schema(self._resolve(doc_name, pointer), doc_name)
        return self.compiled[key]

    def _resolve(self, doc_name: str, pointer: str) -> Any:
        if doc_name not in self.documents:
            raise UnsupportedSchema(f"$ref to unknown document {doc_name!r}")
        node: Any = self.documents[doc_name]
        for part in (p for p in pointer.split("/") if p):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def schema(self, schema: Any, base: str) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"not a schema: {schema!r}")
        unknown = set(schema) - SUPPORTED - ANNOTATIONS
        if unknown:
            raise UnsupportedSchema(f"unsupported keyword(s) {sorted(unknown)}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(base, schema["$ref"]))
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
            tests = [_TYPES[n] for n in names]
            checks.append(tests[0] if len(tests) == 1 else _any(tests))
        if "enum" in schema:
            allowed = frozenset(canonical(o) for o in schema["enum"])
            checks.append(lambda v: canonical(v) in allowed)
        if "const" in schema:
            const = canonical(schema["const"])
            checks.append(lambda v: canonical(v) == const)
        checks.extend(self._object(schema, base))
        checks.extend(self._array(schema, base))
        checks.extend(_string(schema))
        checks.extend(_number(schema))
        for word, need_one in (("oneOf", True), ("anyOf", False)):
            if word in schema:
                branches = [self.schema(s, base) for s in schema[word]]
                checks.append(_exactly_one(branches) if need_one else _any(branches))
        return _all(checks)

    def _object(self, schema: dict[str, Any], base: str) -> list[Check]:
        props = {k: self.schema(s, base) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True else self.schema(extra, base)
        required = tuple(schema.get("required", ()))
        names = self.schema(schema["propertyNames"], base) if "propertyNames" in schema else None
        least = schema.get("minProperties")
        if not (props or extra_check or required or names or least is not None):
            return []

        def check(v: object) -> bool:
            if not isinstance(v, dict):
                return True
            if least is not None and len(v) < least:
                return False
            for r in required:
                if r not in v:
                    return False
            for key, value in v.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(value):
                        return False
                elif extra_check is not None and not extra_check(value):
                    return False
                if names is not None and not names(key):
                    return False
            return True
        return [check]

    def _array(self, schema: dict[str, Any], base: str) -> list[Check]:
        items = self.schema(schema["items"], base) if "items" in schema else None
        least = schema.get("minItems")
        unique = bool(schema.get("uniqueItems"))
        if items is None and least is None and not unique:
            return []

        def check(v: object) -> bool:
            if not isinstance(v, list):
                return True
            if least is not None and len(v) < least:
                return False
            if items is not None and not all(items(x) for x in v):
                return False
            return not unique or len({canonical(x) for x in v}) == len(v)
        return [check]


def _string(schema: dict[str, Any]) -> list[Check]:
    from dmsctl.compiler.schema_check import ecma_pattern

    out: list[Check] = []
    if "pattern" in schema:
        search = ecma_pattern(schema["pattern"]).search
        out.append(lambda v: not isinstance(v, str) or search(v) is not None)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None:
        out.append(lambda v: not isinstance(v, str) or len(v) >= low)
    if high is not None:
        out.append(lambda v: not isinstance(v, str) or len(v) <= high)
    return out


def _number(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        out.append(lambda v: not _is_number(v) or v >= low)
    if high is not None:
        out.append(lambda v: not _is_number(v) or v <= high)
    return out


@cache
def _compiler() -> _Compiler:
    folder = schemas_dir()
    return _Compiler({p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.schema.json"))})


@cache
def checker(filename: str) -> Check:
    """The yes/no check of schemas/<filename> (compiled once per process)."""
    return _compiler().ref(filename, "")


def compile_schema(schema: dict[str, Any], others: Mapping[str, dict[str, Any]] | None = None) -> Check:
    """The check of a schema given inline (tests), with `others` by file name for its `$ref`s."""
    return _Compiler({"<inline>": schema, **(others or {})}).ref("<inline>", "")
