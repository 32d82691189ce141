"""The compiled yes/no schema check (compiler/fast_schema.py) agrees with jsonschema on valid/invalid:
over every example file, generated trees, and systematic mutations of them (each value replaced by
wrong ones, each key removed, an unknown key added); a file it rejects gets jsonschema's messages."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from benchmarks.generate import generate
from dmsctl.compiler import fast_schema, schema_check
from dmsctl.compiler.yamlsource import parse_yaml
from tests.helpers import REPO

SCENARIOS = REPO / "sandbox" / "scenarios"
# one of each kind JSON has, and the edge cases of the keywords in schemas/ (ECMA's `$`, 2.0 as an integer,
# duplicates, an out-of-range number)
WRONG_VALUES: tuple[object, ...] = ("x", "a\n", -1, 2.0, 10**6, True, None, ["x", "x"], {"x": 1})


def _jsonschema_valid(kind: str, data: object) -> bool:
    return next(iter(schema_check.validator(kind).iter_errors(data)), None) is None


def _fast_valid(kind: str, data: object) -> bool:
    return fast_schema.checker(schema_check.SCHEMA_FILES[kind])(data)


def _files(root: Path) -> list[tuple[str, object]]:
    found = []
    for path in sorted(root.rglob("*.yaml")):
        kind = "base" if path.name == "base.yaml" else "team" if path.parent.name == "teams" else None
        if kind:
            found.append((kind, yaml.safe_load(path.read_text())))
    return found


def _paths(value: object, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):  # the first two items stand for the rest (tables are alike)
        for i, v in enumerate(value[:2]):
            yield from _paths(v, path + (i,))


def _replaced(doc: object, path: tuple, new: object) -> object:
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]  # type: ignore[index]
    node[path[-1]] = new  # type: ignore[index]
    return out


def _removed(doc: object, path: tuple) -> object:
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]  # type: ignore[index]
    del node[path[-1]]  # type: ignore[index,arg-type]
    return out


def _mutations(doc: object) -> Iterator[object]:
    for n, path in enumerate(_paths(doc)):
        if not path:
            continue
        for wrong in WRONG_VALUES[n % 3::3]:  # a third of the wrong values per place, each used everywhere
            yield _replaced(doc, path, wrong)
        yield _removed(doc, path)
        parent = _removed(doc, path)  # the same place, with an unknown key next to it
        node = parent
        for p in path[:-1]:
            node = node[p]  # type: ignore[index]
        if isinstance(node, dict):
            node["unknown_key"] = 1
            yield parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, object]]:
    tree = tmp_path_factory.mktemp("generated")
    generate(tree, 12, tasks=3, tables=6, seed=7)
    return _files(SCENARIOS) + _files(tree)


def test_both_say_valid_for_every_example_and_generated_file(corpus):
    assert len(corpus) > 12
    for kind, data in corpus:
        assert _jsonschema_valid(kind, data) and _fast_valid(kind, data)


def test_both_agree_on_every_mutation_of_the_examples(corpus):
    examples = [(k, d) for k, d in _files(SCENARIOS / "demo" / "current")]
    generated = corpus[-1:]
    checked = invalid = 0
    for kind, doc in examples + generated:
        for mutated in _mutations(doc):
            expected = _jsonschema_valid(kind, mutated)
            assert _fast_valid(kind, mutated) == expected, (kind, mutated)
            checked += 1
            invalid += not expected
    assert checked > 1500 and 0 < invalid < checked  # both outcomes are exercised


@pytest.mark.parametrize(("schema", "good", "bad"), [
    ({"type": "integer"}, [1, 2.0, -3], [1.5, True, "1", None]),
    ({"type": "number", "minimum": 1, "maximum": 2}, [1, 1.5, 2], [0, 2.5, True, "x"]),
    ({"enum": [1, "a"]}, [1, 1.0, "a"], [True, "b", None]),
    ({"type": "string", "pattern": "^[a-z]+$"}, ["abc"], ["abc\n", "ABC", ""]),
    ({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "abc"], ["a", "abcd"]),
    ({"type": "array", "uniqueItems": True, "minItems": 1}, [[1, 2], [1, True], [{"a": 1}, {"a": 2}]],
     [[], [1, 1.0], [{"a": 1}, {"a": 1}]]),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False,
      "required": ["a"]}, [{"a": "x"}], [{}, {"a": 1}, {"a": "x", "b": 1}]),
    ({"type": "object", "propertyNames": {"pattern": "^[a-z]$"}, "minProperties": 1}, [{"a": 1}], [{}, {"ab": 1}]),
    ({"oneOf": [{"type": "string"}, {"type": "string", "minLength": 2}]}, ["a"], ["ab", 1]),
    ({"$ref": "#/$defs/n", "$defs": {"n": {"type": "integer"}}}, [3], ["3"]),
])
def test_each_keyword_means_what_jsonschema_means(schema, good, bad):
    check = fast_schema.compile_schema(schema)
    reference = schema_check._Validator(schema)
    for value in good:
        assert check(value) and reference.is_valid(value), value
    for value in bad:
        assert not check(value) and not reference.is_valid(value), value


def test_a_keyword_it_does_not_know_is_refused_not_ignored():
    with pytest.raises(fast_schema.UnsupportedSchema, match="if"):
        fast_schema.compile_schema({"if": {"type": "string"}, "then": {"minLength": 2}})


def test_a_file_the_fast_check_rejects_gets_jsonschemas_messages():
    doc = parse_yaml("team: alpha\nowners: [\"@acme/alpha\"]\nsources: {}\ninstances: {}\ntasks: {}\nbogus: 1\n",
                     "teams/alpha.yaml")
    assert not _fast_valid("team", doc.data)
    messages = [d.message for d in schema_check.check_schema(doc, "team")]
    assert any("unknown field 'bogus'" in m for m in messages)
