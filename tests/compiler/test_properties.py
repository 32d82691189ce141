"""Property tests of the compiler (hypothesis).

1. Mangled YAML text as a team file never makes the compiler raise: only diagnostics come out.
2. Random config structures (wrong types, odd strings) never make it raise either.
3. Valid generated configs compile without errors, and compiling twice gives identical files.
4. For any valid config every stack body is JSON and every task selects exactly its active tables.

Linting is off (linter=None) to keep this file fast; cfn-lint is covered by test_golden/test_codes.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmsctl.compiler import naming, output
from dmsctl.compiler import settings as task_settings
from dmsctl.compiler.build import CompileResult, compile_tree, validate_all
from dmsctl.compiler.diagnostics import Diagnostic
from tests.helpers import EXAMPLES, MINIMAL_BASE, minimal_team, write_tree

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLE_BASE = (EXAMPLES / "base.yaml").read_text()
EXAMPLE_TEAMS = {p.stem: p.read_text() for p in sorted((EXAMPLES / "teams").glob("*.yaml"))}
CODE = re.compile(r"^[EWI][0-9]{3}$")


def _check_diagnostics(diags, files: dict[str, str]) -> None:
    """Every finding is a well-formed Diagnostic; one about a config file points inside that file."""
    for d in diags:
        assert isinstance(d, Diagnostic)
        assert CODE.match(d.code), d
        assert d.message
        for name, text in files.items():
            if d.file.replace("\\", "/").endswith(f"configs/teams/{name}.yaml"):
                assert 1 <= d.line <= text.count("\n") + 2, d
                assert d.column >= 1, d


def _reject_constant(name: str):
    raise ValueError(f"not JSON: {name}")


def _strict_json(text: str) -> object:
    """json.loads without Python's NaN/Infinity extension (AWS would reject those)."""
    return json.loads(text, parse_constant=_reject_constant)


def _compile_team_text(name: str, text: str) -> None:
    """Write `text` as teams/<name>.yaml next to the example base, compile and validate: must not raise."""
    with tempfile.TemporaryDirectory() as tmp:
        config = write_tree(Path(tmp), base=EXAMPLE_BASE, teams={name: text})
        result = compile_tree(config)
        assert isinstance(result, CompileResult)
        _check_diagnostics(result.diagnostics, {name: text})
        assert result.ok == (result.tree is not None and not any(d.is_error for d in result.diagnostics))
        if result.ok:  # whatever got through is deployable JSON
            for stack in result.tree.stacks:
                _strict_json(stack.body)
            for task in result.tree.tasks():
                _strict_json(task.mappings), _strict_json(task.settings)
        _check_diagnostics(validate_all(config), {name: text})


# --- 1. mangled YAML text ---------------------------------------------------------------------------

YAML_CHARS = st.sampled_from(list(":-{}[]&*!#|>'\"%@`,?~\t\n ")
                             + ["  ", "- ", ": ", "<<: ", "{{", "\x00", "\ufeff"])


@st.composite
def mangled_example(draw) -> tuple[str, str]:
    """An example team file with a few random character deletions/insertions and line swaps."""
    name = draw(st.sampled_from(sorted(EXAMPLE_TEAMS)))
    text = EXAMPLE_TEAMS[name]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "drop"]))
        lines = text.split("\n")
        if op == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(YAML_CHARS | st.characters()) + text[i:]
        elif op == "swap":
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif op == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[:i + 1] + lines[i:])
        elif op == "drop":
            i = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[:i] + lines[i + 1:])
    return name, text


@FAST
@given(mangled_example())
def test_mangled_example_files_only_give_diagnostics(case):
    name, text = case
    _compile_team_text(name, text)


@FAST
@given(st.text(max_size=300)
       | st.lists(YAML_CHARS | st.sampled_from(["a", "0", "team", "tasks", "alpha", "\n  "]),
                  max_size=60).map("".join))
def test_random_text_only_gives_diagnostics(text):
    _compile_team_text("alpha", text)


# --- 2. random config structures -------------------------------------------------------------------

ODD_STRINGS = st.sampled_from([
    "", " ", "{{ team.name }}", "{% if %}", "}}", "a\nb", "%", "_", "[", "[x]", "100%_[x]", "'", '"', "\\",
    "é", "日本", "\u202e", "\x7f", "null", "~", "yes", "0x1f", "1e3", "v202001010000", "v202013011200",
    "staging", "prod", "qa", "db", "main", "s3-10min", "dms.t3.medium", "postgres", "cdc", "app", "t0",
    "@acme/x", "a" * 300,
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), ODD_STRINGS,
                    st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(ODD_STRINGS | st.text(max_size=6), inner, max_size=3), max_leaves=6)


def _paths(node, prefix=()):
    """Every path into a nested dict/list (the places a random value can go)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


SETTINGS_KEYS = st.sampled_from(["ChangeProcessingTuning", "FullLoadSettings", "Logging", "TargetMetadata",
                                  "ValidationSettings", "TargetTablePrepMode", "BatchApplyTimeoutMax",
                                  "CloudWatchLogGroup", "ErrorBehavior"]) | ODD_STRINGS
SETTINGS = st.recursive(SCALARS, lambda inner: st.dictionaries(SETTINGS_KEYS, inner, max_size=3),
                        max_leaves=6)
KNOWN_SETTINGS = sorted((section, key) for section, body in task_settings.defaults().items()
                        if isinstance(body, dict) for key in body)
OPTIONAL_KEYS = st.sampled_from(["settings", "paused", "environments", "port", "database", "description",
                                 "engine_version", "multi_az", "ssl_mode"])


@st.composite
def random_structure(draw) -> dict:
    """minimal_team() with a few values replaced, keys added or removed, at random places."""
    team = minimal_team()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(team) if p]
        op = draw(st.sampled_from(["leaf", "leaf", "subtree", "add", "settings", "known-setting",
                                   "description", "remove"]))
        if op == "leaf":
            paths = [p for p in paths if not isinstance(_at(team, p), (dict, list))] or paths
        path = draw(st.sampled_from(paths))
        parent = _at(team, path[:-1])
        tasks = team.get("tasks")
        task = tasks.get("cdc") if isinstance(tasks, dict) and isinstance(tasks.get("cdc"), dict) else None
        if op == "leaf":
            parent[path[-1]] = draw(SCALARS)
        elif op == "subtree":
            parent[path[-1]] = draw(VALUES)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(OPTIONAL_KEYS | ODD_STRINGS)] = draw(VALUES)
        elif op == "settings" and task is not None:
            task["settings"] = draw(SETTINGS)
        elif op == "known-setting" and task is not None:  # a real setting with a random value: gets rendered
            section, key = draw(st.sampled_from(KNOWN_SETTINGS))
            overrides = task["settings"] = task["settings"] if isinstance(task.get("settings"), dict) else {}
            overrides[section] = overrides[section] if isinstance(overrides.get(section), dict) else {}
            overrides[section][key] = draw(VALUES)
        elif op == "description":
            target = draw(st.sampled_from([team, task if task is not None else team]))
            target["description"] = draw(ODD_STRINGS | st.text(max_size=40))
        elif op == "remove":
            del parent[path[-1]]
    return team


def _at(node, path):
    for key in path:
        node = node[key]
    return node


@FAST
@given(random_structure())
def test_random_structures_only_give_diagnostics(team):
    text = yaml.safe_dump(team, sort_keys=False, allow_unicode=True)
    _compile_team_text("alpha", text)


# --- 3./4. valid generated configs --------------------------------------------------------------------

NAME = st.from_regex(r"\A[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4}){0,2}\Z")
TEAM_NAME = st.from_regex(r"\A[a-z][a-z0-9]{0,7}\Z")  # no hyphen: physical names cannot collide across teams
DB_NAME = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_$#-]{0,15}\Z")  # schema/table names (the schema's pattern)
VERSION = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
    lambda d: d.strftime("v%Y%m%d%H%M"))
ENGINES = ["mysql", "mariadb", "aurora", "postgres", "aurora-postgresql", "sqlserver", "oracle"]


def _unique_logical(kind: str, max_size: int, min_size: int = 1):
    return st.lists(NAME, min_size=min_size, max_size=max_size,
                    unique_by=lambda n: naming.logical_id(kind, n))


@st.composite
def valid_team(draw, name: str) -> dict:
    sources = {}
    for s in draw(_unique_logical("Source", 2)):
        engine = draw(st.sampled_from(ENGINES))
        server = draw(st.sampled_from(["db.internal", {"staging": "db.staging", "prod": "db.prod"}]))
        source = {"engine": engine, "server": server,
                  "secret_id": f"dms/{name}/{s}"}
        if engine in ("postgres", "aurora-postgresql", "sqlserver", "oracle") or draw(st.booleans()):
            source["database"] = draw(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_$-]{0,10}\Z"))
        if draw(st.booleans()):
            source["port"] = draw(st.integers(1, 65535))
        sources[s] = source
    instances = {i: {"class": draw(st.sampled_from(["dms.t3.medium", {"staging": "dms.t3.small",
                                                                      "prod": "dms.r5.large"}])),
                     "storage_gb": draw(st.integers(5, 6144)), "multi_az": draw(st.booleans())}
                 for i in draw(_unique_logical("Instance", 2))}
    tasks = {}
    written: set[tuple] = set()  # (source, schema, table, version), case-folded: one writer per output path
    for t in draw(_unique_logical("Task", 3)):
        source = draw(st.sampled_from(sorted(sources)))
        tables, seen = [], set()
        for _ in range(draw(st.integers(1, 6))):
            schema, table, version = draw(DB_NAME), draw(DB_NAME), draw(VERSION)
            key = (schema.lower(), table.lower())
            if key in seen or (source,) + key + (version,) in written:
                continue
            seen.add(key)
            written.add((source,) + key + (version,))
            paused = draw(st.booleans())
            tables.append({"schema": schema, "table": table, "version": version, "paused": paused})
        if not tables:
            continue
        if all(tb["paused"] for tb in tables):
            tables[0]["paused"] = False
        task = {"source": source, "instance": draw(st.sampled_from(sorted(instances))),
                "target": draw(st.sampled_from(["s3-1min", "s3-10min"])),
                "migration_type": draw(st.sampled_from(["full-load", "cdc", "full-load-and-cdc"])),
                "paused": draw(st.booleans()), "tables": tables}
        if draw(st.booleans()):
            task["settings"] = {"ChangeProcessingTuning": {"BatchApplyTimeoutMax": draw(st.integers(1, 600))}}
        tasks[t] = task
    if not tasks:  # every drawn table was a duplicate: fall back to one plain task
        tasks["cdc"] = {"source": sorted(sources)[0], "instance": sorted(instances)[0], "target": "s3-10min",
                        "migration_type": "cdc",
                        "tables": [{"schema": "app", "table": "t", "version": "v202001010000"}]}
    team = {"team": name, "owners": [f"@acme/{name}"], "sources": sources, "instances": instances,
            "tasks": tasks}
    if draw(st.booleans()):
        team["environments"] = ["staging", "prod"]
    return team


@st.composite
def valid_tree(draw) -> dict[str, dict]:
    names = draw(st.lists(TEAM_NAME, min_size=1, max_size=3, unique=True))
    return {n: draw(valid_team(n)) for n in names}


def _compile_dicts(teams: dict[str, dict], env: str = "staging") -> CompileResult:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_tree(Path(tmp), base=copy.deepcopy(MINIMAL_BASE), teams=teams)
        return compile_tree(config, env)


@FAST
@given(valid_tree(), st.sampled_from(["staging", "prod"]))
def test_valid_configs_compile_without_errors_and_deterministically(teams, env):
    first = _compile_dicts(teams, env)
    errors = [f"{d.location()} {d.code} {d.message}" for d in first.diagnostics if d.is_error]
    assert first.ok, errors
    assert [s.team for s in first.tree.team_stacks] == sorted(teams)
    second = _compile_dicts(copy.deepcopy(teams), env)
    assert output.files(first) == output.files(second)


@FAST
@given(valid_tree())
def test_stacks_are_json_and_mappings_select_exactly_the_active_tables(teams):
    result = _compile_dicts(teams)
    assert result.ok, [f"{d.location()} {d.code} {d.message}" for d in result.diagnostics if d.is_error]
    for stack in result.tree.stacks:
        template = _strict_json(stack.body)
        assert isinstance(template["Resources"], dict)
        deployed = {r["Properties"]["ReplicationTaskIdentifier"]: r["Properties"]["TableMappings"]
                    for r in template["Resources"].values() if r["Type"] == "AWS::DMS::ReplicationTask"}
        assert set(deployed) == {t.identifier for t in stack.tasks}
        for task in stack.tasks:
            assert deployed[task.identifier] == task.mappings
            configured = teams[task.team]["tasks"][task.name]["tables"]
            active = sorted((tb["schema"], tb["table"]) for tb in configured if not tb["paused"])
            rules = _strict_json(task.mappings)["rules"]
            selected = sorted((r["object-locator"]["schema-name"], r["object-locator"]["table-name"])
                              for r in rules if r["rule-type"] == "selection")
            assert selected == active
            assert all(r["rule-action"] == "explicit" for r in rules if r["rule-type"] == "selection")
