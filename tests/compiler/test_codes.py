"""One test per diagnostic code (docs/CODES.md): a minimal bad config, and the code, file, line
(and column where it means something) and the key part of the message the compiler reports."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from dmsctl.compiler import limits, render
from dmsctl.compiler.build import compile_tree, validate_all
from dmsctl.compiler.diagnostics import Diagnostic, Severity, format_json
from dmsctl.compiler.lint import Linter
from tests.helpers import MINIMAL_BASE, minimal_team, write_tree

# A team file written like the examples (flow-style tables), so every line is easy to point at.
TEAM = """\
team: alpha
owners: ["@acme/alpha"]

sources:
  db:
    engine: mysql
    server: db.internal
    secret_id: dms/alpha/db

instances:
  main:
    class: dms.t3.medium
    storage_gb: 50

tasks:
  cdc:
    source: db
    instance: main
    target: s3-10min
    migration_type: full-load-and-cdc
    tables:
      - {schema: app, table: t0, version: v202001010000}
      - {schema: app, table: t1, version: v202001010000}
"""

TASK_RELOAD = """\
  reload:
    source: db
    instance: main
    target: s3-10min
    migration_type: full-load-and-cdc
    tables:
      - {schema: app, table: t1, version: v202001010000}
"""


# --- helpers -------------------------------------------------------------------------------------

def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} time(s)"
    return hits[occurrence - 1]


def col_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based column where `needle` starts on its line."""
    line = text.splitlines()[line_of(text, needle, occurrence) - 1]
    return line.index(needle) + 1


def only(diags, code: str) -> Diagnostic:
    found = [d for d in diags if d.code == code]
    shown = [f"{d.location()} {d.code} {d.message}" for d in diags]
    assert len(found) == 1, f"expected one {code}, got {shown}"
    return found[0]


def codes(diags) -> list[str]:
    return [d.code for d in diags]


def in_file(d: Diagnostic, ending: str) -> bool:
    return d.file.replace("\\", "/").endswith(ending)


def team_yaml(tmp_path: Path, text: str, name: str = "alpha", env: str | None = None):
    """Compile a tree whose only team file is `text`; returns the diagnostics."""
    config = write_tree(tmp_path, teams={name: text})
    return compile_tree(config, env).diagnostics


ALPHA = "configs/teams/alpha.yaml"


# --- E1xx: reading files ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, at, problem", [
    (TEAM.replace("server: db.internal", "server: db.internal: 5"), ": 5",
     "mapping values are not allowed here"),
    (TEAM.replace("    class: dms.t3.medium", "\tclass: dms.t3.medium"), "\tclass", "found character '\\t'"),
    (TEAM.replace("server: db.internal", "server: db\x07internal"), "\x07", "unacceptable character #x0007"),
    (TEAM.replace("storage_gb: 50", 'storage_gb: "50'), "", "found unexpected end of stream"),
], ids=["mapping-value", "tab", "control-character", "unterminated-string"])
def test_e100_invalid_yaml(tmp_path, text, at, problem):
    d = only(team_yaml(tmp_path, text), "E100")
    assert in_file(d, ALPHA)
    if at:
        assert (d.line, d.column) == (line_of(text, at), col_of(text, at))
    else:  # reported where the file ends
        assert (d.line, d.column) == (len(text.splitlines()) + 1, 1)
    assert "invalid YAML" in d.message and problem in d.message


def test_e100_file_not_utf8(tmp_path):
    config = write_tree(tmp_path)
    text = TEAM.replace("owners:", "description: caf\xe9 au lait\nowners:")
    (config / "teams" / "alpha.yaml").write_bytes(text.encode("latin-1"))
    d = only(compile_tree(config).diagnostics, "E100")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "caf\xe9"), col_of(text, "\xe9"))
    assert "not valid UTF-8" in d.message


def test_e101_duplicate_key(tmp_path):
    text = TEAM.replace("    target: s3-10min\n", "    target: s3-10min\n    target: s3-1min\n")
    d = only(team_yaml(tmp_path, text), "E101")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "target: s3-1min"), 5)
    assert f"duplicate key 'target' (first defined on line {line_of(text, 'target: s3-10min')})" in d.message


@pytest.mark.parametrize("text, needle, message", [
    (TEAM.replace("secret_id: dms/alpha/db", "secret_id: &secret dms/alpha/db"), "&secret",
     "anchors and aliases are not allowed"),
    (TEAM.replace("server: db.internal", "server: &host db.internal").replace(
        "secret_id: dms/alpha/db", "secret_id: *host"), "&host", "anchors and aliases are not allowed"),
    (TEAM.replace("  main:\n    class: dms.t3.medium\n    storage_gb: 50\n",
                  "  main:\n    <<: {class: dms.t3.medium}\n    storage_gb: 50\n"), "<<", "merge keys (<<)"),
    (TEAM.replace("storage_gb: 50", "storage_gb: !gigabytes 50"), "!gigabytes",
     "custom YAML tag '!gigabytes'"),
    (TEAM.replace("  db:\n", "  ? [db, other]\n  :\n"), "? [db", "mapping keys must be plain strings"),
], ids=["anchor", "alias", "merge-key", "custom-tag", "complex-key"])
def test_e102_anchors_aliases_merge_keys_and_tags(tmp_path, text, needle, message):
    d = only(team_yaml(tmp_path, text), "E102")
    assert in_file(d, ALPHA)
    key_at = 2 if needle == "? [db" else 0  # a complex key is reported where the key itself starts
    assert (d.line, d.column) == (line_of(text, needle), col_of(text, needle) + key_at)
    assert message in d.message


@pytest.mark.parametrize("text, needle, message", [
    (TEAM.replace("owners:", "ownres:"), "ownres:",
     "unknown field 'ownres' at the top of the file; did you mean 'owners'?"),
    (TEAM.replace("    tables:\n", "    pasued: true\n    tables:\n"), "pasued:",
     "unknown field 'pasued' in tasks.cdc; did you mean 'paused'?"),
    (TEAM.replace("{schema: app, table: t1,", "{schema: app, tabel_name: x, table: t1,"), "tabel_name",
     "unknown field 'tabel_name' in tasks.cdc.tables[1]"),
], ids=["top-level", "task", "table"])
def test_e103_unknown_field_with_did_you_mean(tmp_path, text, needle, message):
    d = only(team_yaml(tmp_path, text), "E103")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, needle), col_of(text, needle))
    assert message in d.message


@pytest.mark.parametrize("text, at, message", [
    (TEAM.replace("    tables:\n", '    paused: "no"\n    tables:\n'), '"no"',
     'tasks.cdc.paused: expected true or false, got "no"'),
    (TEAM.replace("storage_gb: 50", "storage_gb: fifty"), "fifty",
     'instances.main.storage_gb: expected an integer from 5 to 6144 or a mapping from environment name to value, '
     'got "fifty"'),
    (TEAM.replace("migration_type: full-load-and-cdc", "migration_type: streaming"), "streaming",
     'tasks.cdc.migration_type: "streaming" is not one of "full-load", "cdc", "full-load-and-cdc"'),
    (TEAM.replace("table: t1, version: v202001010000", "table: t1, version: 2020-01-01"), "2020-01-01",
     'tasks.cdc.tables[1].version: "2020-01-01" is invalid: must be vYYYYMMDDHHMM, such as v202611011200'),
    (TEAM.replace('owners: ["@acme/alpha"]', "owners: []"), "[]", "owners: must not be empty"),
    # a bad task name that is not the first key of `tasks:` (the error must point at that key)
    (TEAM + TASK_RELOAD.replace("  reload:", "  Bad_Reload:"), "Bad_Reload",
     "invalid name 'Bad_Reload' in tasks: must be a name of lower-case letters, digits and single hyphens, "
     "starting with a letter"),
    # JSON has no NaN: a YAML .nan in the task settings would make ReplicationTaskSettings invalid
    (TEAM.replace("    tables:\n", "    settings: {ChangeProcessingTuning: {BatchApplyTimeoutMax: .nan}}\n"
                                   "    tables:\n"), ".nan",
     "tasks.cdc.settings.ChangeProcessingTuning.BatchApplyTimeoutMax: expected an integer of at least 0, got NaN"),
], ids=["type", "oneOf-type", "enum", "pattern", "min-items", "property-name", "settings-nan"])
def test_e104_invalid_value(tmp_path, text, at, message):
    d = only(team_yaml(tmp_path, text), "E104")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, at), col_of(text, at))
    assert message in d.message


def test_e104_invalid_environment_name_in_base(tmp_path):
    base = copy.deepcopy(MINIMAL_BASE)
    base["environments"]["Prod"] = base["environments"].pop("prod")
    config = write_tree(tmp_path, base=base)
    text = (config / "base.yaml").read_text()
    d = only(compile_tree(config).diagnostics, "E104")
    assert in_file(d, "configs/base.yaml")
    assert (d.line, d.column) == (line_of(text, "Prod:"), col_of(text, "Prod:"))
    assert "invalid name 'Prod' in environments" in d.message


@pytest.mark.parametrize("text, needle, message", [
    (TEAM.replace("    tables:\n      - {schema: app, table: t0, version: v202001010000}\n"
                  "      - {schema: app, table: t1, version: v202001010000}\n", ""),
     "    source: db", "tasks.cdc: missing required field 'tables'"),
    (TEAM.replace('owners: ["@acme/alpha"]\n', ""), "team: alpha",
     "missing required field 'owners' at the top of the file"),
    (TEAM.replace("engine: mysql", "engine: postgres"), "engine: postgres",
     "sources.db: engine postgres needs 'database'"),
], ids=["task-field", "top-level-field", "postgres-without-database"])
def test_e105_missing_required_field(tmp_path, text, needle, message):
    d = only(team_yaml(tmp_path, text), "E105")
    assert in_file(d, ALPHA)
    assert d.line == line_of(text, needle)
    assert message in d.message


@pytest.mark.parametrize("case", ["base-missing", "base-not-a-mapping", "team-empty", "team-a-scalar"])
def test_e106_unusable_file(tmp_path, case):
    if case == "base-missing":
        config = write_tree(tmp_path)
        (config / "base.yaml").unlink()
        ending, message, line = "configs/base.yaml", "no base.yaml in", 0
    elif case == "base-not-a-mapping":
        config = write_tree(tmp_path, base="- staging\n- prod\n")
        ending, message, line = "configs/base.yaml", "expected a mapping of base settings, got a list", 1
    elif case == "team-empty":
        config = write_tree(tmp_path, teams={"alpha": "# nothing here yet\n"})
        ending, message, line = ALPHA, "expected a mapping of team settings, got an empty file", 1
    else:
        config = write_tree(tmp_path, teams={"alpha": "alpha\n"})
        ending, message, line = ALPHA, "expected a mapping of team settings, got a str", 1
    diags = validate_all(config)
    d = only(diags, "E106")
    assert in_file(d, ending)
    assert d.line == line
    assert message in d.message


def test_w106_no_team_files(tmp_path):
    config = write_tree(tmp_path, teams={})
    result = compile_tree(config)
    d = only(result.diagnostics, "W106")
    assert d.severity is Severity.WARNING
    assert in_file(d, "configs/teams")
    assert "no team files" in d.message
    assert result.ok and [s.kind for s in result.tree.stacks] == ["base"]


# --- E2xx: the tree -------------------------------------------------------------------------------

def test_e201_team_name_is_not_the_file_name(tmp_path):
    d = only(team_yaml(tmp_path, TEAM, name="beta"), "E201")
    assert in_file(d, "configs/teams/beta.yaml")
    assert (d.line, d.column) == (1, 7)
    assert "team 'alpha' must live in teams/alpha.yaml (file is beta.yaml)" in d.message


@pytest.mark.parametrize("text, needle, message", [
    (TEAM.replace("server: db.internal", "server:\n      staging: db.staging\n      prod: db.prod\n"
                  "      qa: db.qa"), "qa: db.qa",
     "'qa' is not an environment in base.yaml (known: prod, staging)"),
    (TEAM.replace("\nsources:", "environments: [staging, qa]\n\nsources:"), "environments:",
     "'qa' is not an environment in base.yaml"),
], ids=["per-env-value", "environments-list"])
def test_e202_unknown_environment(tmp_path, text, needle, message):
    d = only(team_yaml(tmp_path, text), "E202")
    assert in_file(d, ALPHA)
    assert d.line == line_of(text, needle)
    assert d.column == (col_of(text, "qa") if needle.startswith("qa") else col_of(text, "qa]"))
    assert message in d.message


def test_e203_per_env_value_missing_the_environment(tmp_path):
    text = TEAM.replace("server: db.internal", "server:\n      staging: db.staging")
    d = only(team_yaml(tmp_path, text, env="prod"), "E203")
    assert in_file(d, ALPHA)
    assert d.line == line_of(text, "staging: db.staging")  # the per-environment mapping
    assert "sources.db.server has no value for environment 'prod'" in d.message


def test_e204_unknown_env(tmp_path):
    config = write_tree(tmp_path)
    text = (config / "base.yaml").read_text()
    result = compile_tree(config, "qa")
    d = only(result.diagnostics, "E204")
    assert result.tree is None
    assert in_file(d, "configs/base.yaml")
    assert d.line == line_of(text, "environments:") + 1
    assert "unknown environment 'qa' (known: prod, staging)" in d.message


@pytest.mark.parametrize("old, new, message", [
    ("source: db", "source: dbb", "task 'cdc': unknown source 'dbb'; did you mean 'db'?"),
    ("instance: main", "instance: mian", "task 'cdc': unknown instance 'mian'; did you mean 'main'?"),
    ("target: s3-10min", "target: s3-10mn",
     "unknown target 's3-10mn' (targets live in base.yaml); did you mean 's3-10min'?"),
    ("instance: main", "instance: zzz", "unknown instance 'zzz' (defined: main)"),
], ids=["source", "instance", "target", "no-close-match"])
def test_e205_unknown_reference(tmp_path, old, new, message):
    text = TEAM.replace(old, new)
    d = only(team_yaml(tmp_path, text), "E205")
    assert in_file(d, ALPHA)
    value = new.split(": ")[1]  # the position of the reference itself, on its `source:` line
    assert (d.line, d.column) == (line_of(text, new), col_of(text, new) + len(new) - len(value))
    assert message in d.message


@pytest.mark.parametrize("duplicate", ["{schema: app, table: t0, version: v202101010000}",
                                       "{schema: APP, table: T0, version: v202001010000}"],
                         ids=["same", "case"])
def test_e206_same_table_twice_in_one_task(tmp_path, duplicate):
    text = TEAM + f"      - {duplicate}\n"
    d = only(team_yaml(tmp_path, text), "E206")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, duplicate), col_of(text, duplicate))
    assert f"is listed twice (first at line {line_of(text, 'table: t0')})" in d.message
    assert "put the new version in a second task" in d.message


def test_e207_physical_name_too_long(tmp_path):
    team = minimal_team("customer-analytics")
    team["instances"] = {"replication-instance-for-nightly-batch": team["instances"]["main"]}
    team["tasks"]["cdc"]["instance"] = "replication-instance-for-nightly-batch"
    config = write_tree(tmp_path, teams={"customer-analytics": team})
    text = (config / "teams" / "customer-analytics.yaml").read_text()
    d = only(compile_tree(config).diagnostics, "E207")
    assert in_file(d, "configs/teams/customer-analytics.yaml")
    assert d.line == line_of(text, "replication-instance-for-nightly-batch:")
    physical = "dmsctl-customer-analytics-replication-instance-for-nightly-batch"
    assert f"instance name '{physical}' is not a valid DMS identifier" in d.message
    assert "at most 63 characters" in d.message


def test_e207_physical_name_collision_across_teams(tmp_path):
    team_ab, team_a = minimal_team("a-b"), minimal_team("a")
    team_ab["tasks"] = {"c": team_ab["tasks"]["cdc"]}
    team_a["tasks"] = {"b-c": team_a["tasks"]["cdc"]}
    config = write_tree(tmp_path, teams={"a-b": team_ab, "a": team_a})
    d = only(compile_tree(config).diagnostics, "E207")
    text = (config / "teams" / "a-b.yaml").read_text()
    assert in_file(d, "configs/teams/a-b.yaml")
    assert (d.line, d.column) == (line_of(text, "  c:"), 3)
    assert "task name 'dmsctl-a-b-c' collides with one of team 'a'" in d.message


def test_e207_logical_id_collision(tmp_path):
    other = TASK_RELOAD.replace("  reload:", "  a1b:").replace("table: t1", "table: t9")
    text = TEAM.replace("  cdc:", "  a-1b:") + other
    d = only(team_yaml(tmp_path, text), "E207")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "  a1b:"), 3)
    assert "task names 'a-1b' and 'a1b' map to the same CloudFormation id TaskA1b" in d.message


def test_e208_version_is_not_a_real_date(tmp_path):
    text = TEAM.replace("table: t1, version: v202001010000", "table: t1, version: v202013011200")
    d = only(team_yaml(tmp_path, text), "E208")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "v202013011200"), col_of(text, "{schema: app, table: t1"))
    assert "table app.t1: version 'v202013011200' is not a real date and time (vYYYYMMDDHHMM)" in d.message


def test_e209_every_table_paused(tmp_path):
    text = TEAM.replace("version: v202001010000}", "version: v202001010000, paused: true}")
    d = only(team_yaml(tmp_path, text), "E209")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "  cdc:"), 3)
    assert "task 'cdc' has no active table" in d.message


def test_w210_unused_source_and_instance(tmp_path):
    text = TEAM.replace("\ninstances:", "  spare-db:\n    engine: mysql\n    server: spare.internal\n"
                                         "    secret_id: dms/alpha/spare\n\ninstances:")
    text = text.replace("\ntasks:", "  spare-main:\n    class: dms.t3.small\n    storage_gb: 20\n\ntasks:")
    config = write_tree(tmp_path, teams={"alpha": text})
    result = compile_tree(config)
    assert result.ok  # warnings only
    found = sorted((d for d in result.diagnostics if d.code == "W210"), key=lambda d: d.line)
    assert [(d.line, d.column) for d in found] == [(line_of(text, "spare-db:"), 3),
                                                   (line_of(text, "spare-main:"), 3)]
    assert all(d.severity is Severity.WARNING and in_file(d, ALPHA) for d in found)
    assert "source 'spare-db' is not used by any task" in found[0].message
    assert "instance 'spare-main' is not used by any task" in found[1].message


def test_e211_unknown_task_setting(tmp_path):
    text = TEAM.replace("    tables:\n", "    settings:\n      ChangeProcessingTuning:\n"
                                        "        BatchApplyTimeoutMx: 30\n    tables:\n")
    d = only(team_yaml(tmp_path, text), "E211")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "BatchApplyTimeoutMx"), col_of(text, "BatchApplyTimeoutMx"))
    assert ("task 'cdc': unknown task setting 'ChangeProcessingTuning.BatchApplyTimeoutMx'; did you mean "
            "'ChangeProcessingTuning.BatchApplyTimeoutMax'?") in d.message


def test_e212_output_path_collision_across_tasks(tmp_path):
    text = TEAM + TASK_RELOAD  # reload lists app.t1 v202001010000, which cdc already writes
    d = only(team_yaml(tmp_path, text), "E212")
    assert in_file(d, ALPHA)
    assert d.line == line_of(text, "table: t1", occurrence=2)
    assert "output path replication/alpha/db/app/t1/v202001010000/ is also written by alpha/cdc" in d.message
    assert f"alpha.yaml:{line_of(text, 'table: t1')}" in d.message


def test_e213_forbidden_setting(tmp_path):
    text = TEAM.replace("    tables:\n", "    settings:\n      FullLoadSettings:\n"
                                        "        TargetTablePrepMode: DROP_AND_CREATE\n    tables:\n")
    d = only(team_yaml(tmp_path, text), "E213")
    assert in_file(d, ALPHA)
    assert d.line == line_of(text, "  cdc:")
    assert 'setting FullLoadSettings.TargetTablePrepMode="DROP_AND_CREATE" is not allowed' in d.message


# --- schedules and notifications (E214-E218, W220) ---------------------------------------------------------

NIGHTLY = """\
  nightly:
    source: db
    instance: main
    target: s3-10min
    migration_type: full-load
    schedule:
      expression: cron(0 2 * * ? *)
      output: dated
    tables:
      - {schema: app, table: t9, version: v202001010000}
"""

ORDERS = """\
  orders:
    source: db
    instance: main
    target: s3-10min
    migration_type: cdc
    cdc_start_time: "2026-11-01T00:00:00Z"
    schedule:
      expression: rate(6 hours)
    tables:
      - {schema: app, table: t8, version: v202001010000}
"""

NOTIFY = """\
notifications:
  email: [oncall@acme.io]
  https: [https://hooks.acme.io/dms]
  events: [failure, state change]
"""


def test_schedules_and_notifications_compile_without_findings(tmp_path):
    text = TEAM + NIGHTLY + ORDERS + NOTIFY
    assert [d for d in team_yaml(tmp_path, text) if d.code.startswith(("E", "W"))] == []


@pytest.mark.parametrize("expression, message", [
    ("daily", "an EventBridge schedule is cron(minutes hours day-of-month month day-of-week year) or rate(N unit)"),
    ("cron(0 2 * * *)", "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5"),
    ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(0 25 * * ? *)", "hours field: 25 is outside 0-23"),
    ("cron(0 2 ? * FUN *)", "day-of-week field: 'FUN' is not a number or a name (SUN-SAT)"),
    ("rate(1 days)", "write rate(1 day): the unit is singular for 1"),
    ("rate(2 hour)", "write rate(2 hours): the unit is plural for values above 1"),
    ("rate(0 minutes)", "a rate must be at least 1"),
    ("rate(1 week)", "rate unit 'week' is not one of minute(s), hour(s), day(s)"),
], ids=["not-an-expression", "five-fields", "both-days", "hour-range", "weekday-name", "singular", "plural",
        "zero", "unit"])
def test_e214_invalid_schedule_expression(tmp_path, expression, message):
    text = TEAM + NIGHTLY.replace("cron(0 2 * * ? *)", expression)
    d = only(team_yaml(tmp_path, text), "E214")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "expression:"), col_of(text, expression))
    assert f"task 'nightly': schedule expression '{expression}' is not valid: {message}" in d.message


def test_e215_scheduled_full_load_without_output(tmp_path):
    text = TEAM + NIGHTLY.replace("      output: dated\n", "")
    d = only(team_yaml(tmp_path, text), "E215")
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, "schedule:"), 5)
    assert "task 'nightly': a scheduled full-load task exports into a new folder every run" in d.message
    assert "`output: dated`" in d.message and "`output: timestamped`" in d.message


def test_e215_output_on_an_incremental_task(tmp_path):
    text = TEAM + ORDERS.replace("      expression: rate(6 hours)\n", "      expression: rate(6 hours)\n"
                                                                         "      output: dated\n")
    d = only(team_yaml(tmp_path, text), "E215")
    assert (d.line, d.column) == (line_of(text, "output: dated"), 7)
    assert "task 'orders': `output` is for scheduled full-load (export) tasks" in d.message
    assert "remove `output`" in d.message


@pytest.mark.parametrize("change, message", [
    (("migration_type: cdc", "migration_type: full-load-and-cdc"),
     "`cdc_start_time` is for scheduled cdc tasks only (a full-load-and-cdc task starts with its full load)"),
    (("    schedule:\n      expression: rate(6 hours)\n", ""),
     "`cdc_start_time` is for scheduled cdc tasks only: a continuous cdc task starts capturing when apply starts"),
    (("2026-11-01T00:00:00Z", "2026-02-30T00:00:00Z"),
     "cdc_start_time '2026-02-30T00:00:00Z' is not a real date and time (YYYY-MM-DDTHH:MM:SSZ, UTC)"),
], ids=["not-cdc", "unscheduled", "not-a-date"])
def test_e216_misplaced_or_impossible_cdc_start_time(tmp_path, change, message):
    text = TEAM + ORDERS.replace(*change)
    d = only(team_yaml(tmp_path, text), "E216")
    assert (d.line, d.column) == (line_of(text, "cdc_start_time:"), 5)
    assert f"task 'orders': {message}" in d.message


def test_e217_scheduled_cdc_task_without_cdc_start_time(tmp_path):
    text = TEAM + ORDERS.replace('    cdc_start_time: "2026-11-01T00:00:00Z"\n', "")
    d = only(team_yaml(tmp_path, text), "E217")
    assert (d.line, d.column) == (line_of(text, "schedule:"), 5)
    assert "task 'orders': a scheduled cdc task needs `cdc_start_time`" in d.message
    assert "silently skip the changes before" in d.message


PG_TEAM = TEAM.replace("    engine: mysql\n", "    engine: postgres\n    slot_name: dms_orders\n")


@pytest.mark.parametrize("engine", ["postgres", "aurora-postgresql"])
def test_e219_cdc_start_time_on_a_postgres_source(tmp_path, engine):
    text = PG_TEAM.replace("engine: postgres", f"engine: {engine}") + ORDERS
    d = only(team_yaml(tmp_path, text), "E219")
    assert (d.line, d.column) == (line_of(text, "cdc_start_time:"), 5)
    assert (f"task 'orders': source 'db' is {engine}, and PostgreSQL as a source doesn't support a custom CDC "
            "start time: remove `cdc_start_time`") in d.message
    # the same task without it is valid: no E217 on PostgreSQL, whose first window starts at the native point
    fixed = team_yaml(tmp_path, PG_TEAM + ORDERS.replace('    cdc_start_time: "2026-11-01T00:00:00Z"\n', ""))
    assert not {"E217", "E219", "W222"} & set(codes(fixed))


def test_w222_scheduled_postgres_cdc_without_slot_name(tmp_path):
    text = PG_TEAM.replace("    slot_name: dms_orders\n", "") + ORDERS.replace(
        '    cdc_start_time: "2026-11-01T00:00:00Z"\n', "")
    d = only(team_yaml(tmp_path, text), "W222")
    assert d.severity == Severity.WARNING
    assert (d.line, d.column) == (line_of(text, "schedule:"), 5)
    assert "source 'db' (postgres) has no `slot_name`" in d.message
    # a continuous (unscheduled) cdc task is not warned: it runs from the moment apply starts it
    unscheduled = text.replace("    schedule:\n      expression: rate(6 hours)\n", "")
    assert "W222" not in codes(team_yaml(tmp_path, unscheduled))


@pytest.mark.parametrize("expression", ["rate(12 hours)", "rate(90 minutes)", "cron(0 */6 * * ? *)",
                                        "cron(0,30 2 * * ? *)"])
def test_e218_dated_output_that_can_run_twice_a_day(tmp_path, expression):
    text = TEAM + NIGHTLY.replace("cron(0 2 * * ? *)", expression)
    d = only(team_yaml(tmp_path, text), "E218")
    assert (d.line, d.column) == (line_of(text, "output: dated"), 7)
    assert f"schedule '{expression}' can run more than once a day" in d.message
    assert "use `output: timestamped`" in d.message
    for fine in ("rate(1 day)", "rate(24 hours)", "rate(2 days)", "cron(15 3 ? * MON-FRI *)"):
        assert "E218" not in codes(team_yaml(tmp_path, TEAM + NIGHTLY.replace("cron(0 2 * * ? *)", fine)))
    assert "E218" not in codes(team_yaml(tmp_path, text.replace("output: dated", "output: timestamped")))


def test_scheduled_tasks_and_notifications_work_in_task_stacks(tmp_path):
    text = TEAM + NIGHTLY.replace("    schedule:", "    stack: nightly\n    schedule:") + NOTIFY
    result = compile_tree(write_tree(tmp_path, teams={"alpha": text}), None)
    assert result.ok, [str(d) for d in result.diagnostics if d.severity == Severity.ERROR]
    stacks = {s.name: s.template for s in result.tree.stacks}
    group = stacks["dmsctl-team-alpha--nightly"]["Resources"]
    types = {r["Type"] for r in group.values()}
    assert {"AWS::StepFunctions::StateMachine", "AWS::Events::Rule", "AWS::DMS::Endpoint",
            "AWS::DMS::EventSubscription", "AWS::IAM::Role"} <= types
    assert "AWS::SNS::Topic" not in types  # the topic stays in the team stack, imported here
    team = stacks["dmsctl-team-alpha"]
    assert "EventsTopic" in team["Resources"]
    exported = {o.get("Export", {}).get("Name") for o in team["Outputs"].values()}
    assert "dmsctl-team-alpha-topic-events-arn" in exported


def test_w220_notifications_without_subscribers(tmp_path):
    text = TEAM + "notifications:\n  events: [failure]\n"
    config = write_tree(tmp_path, teams={"alpha": text})
    result = compile_tree(config)
    assert result.ok
    d = only(result.diagnostics, "W220")
    assert d.severity is Severity.WARNING and (d.line, d.column) == (line_of(text, "notifications:"), 1)
    assert "no `email` or `https` subscriber" in d.message


@pytest.mark.parametrize("text, at, message", [
    (TEAM + NOTIFY.replace("oncall@acme.io", "oncall(at)acme.io"), "oncall(at)", "notifications.email[0]"),
    (TEAM + NOTIFY.replace("https://hooks.acme.io/dms", "http://hooks.acme.io/dms"), "http://",
     "notifications.https[0]"),
    (TEAM + NOTIFY.replace("https://hooks.acme.io/dms", "https://user:pw@hooks.acme.io/dms"), "https://user",
     "notifications.https[0]"),
    (TEAM + NOTIFY.replace("state change", "state changes"), "state changes",
     'notifications.events[1]: "state changes" is not one of "configuration change", "creation", "deletion", '
     '"failure", "state change"'),
    (TEAM + ORDERS.replace('"2026-11-01T00:00:00Z"', '"2026-11-01 00:00"'), '"2026-11-01 00:00"',
     "tasks.orders.cdc_start_time"),
    (TEAM + NIGHTLY.replace("output: dated", "output: daily"), "daily",
     'tasks.nightly.schedule.output: "daily" is not one of "dated", "timestamped"'),
], ids=["email", "http", "https-with-password", "event-category", "cdc-start-time-form", "output"])
def test_e104_invalid_schedule_and_notification_values(tmp_path, text, at, message):
    d = only(team_yaml(tmp_path, text), "E104")
    assert (d.line, d.column) == (line_of(text, at), col_of(text, at))
    assert message in d.message


@pytest.mark.parametrize("team, task, what, limit", [
    ("data-science", "nightly-export-of-the-recipe-catalog-to-the-lake", "schedule rule", 64),
    ("customer-analytics", "nightly-export-of-the-recipe-catalog-to-the-data-lake-for-bi", "state machine", 80),
], ids=["rule", "state-machine"])
def test_e207_scheduled_task_names_too_long(tmp_path, team, task, what, limit):
    text = (TEAM.replace("team: alpha", f"team: {team}") + NIGHTLY.replace("  nightly:", f"  {task}:"))
    found = [d for d in team_yaml(tmp_path, text, name=team) if d.code == "E207"]
    assert any(f"task '{task}': {what} name 'dmsctl-{team}-{task}" in d.message and
               f"is longer than {limit} characters" in d.message for d in found), [d.message for d in found]
    d = next(d for d in found if what in d.message)
    assert (d.line, d.column) == (line_of(text, "schedule:"), 5)


def test_e207_export_endpoint_colliding_with_a_source_endpoint(tmp_path):
    text = (TEAM.replace("  db:\n", "  x-export:\n    engine: mysql\n    server: x.internal\n"
                                     "    secret_id: dms/alpha/x\n  db:\n")
            + NIGHTLY.replace("  nightly:", "  src-x:").replace("source: db", "source: x-export"))
    d = only(team_yaml(tmp_path, text), "E207")
    assert "endpoint name 'dmsctl-alpha-src-x-export' collides with another endpoint of this file" in d.message
    assert (d.line, d.column) == (line_of(text, "schedule:"), 5)


def test_e212_export_paths_are_their_own_namespace(tmp_path):
    """An export task may list the same table version as a continuous task: it writes under export/<task>/."""
    text = TEAM + NIGHTLY.replace("table: t9", "table: t1")
    assert "E212" not in codes(team_yaml(tmp_path, text))
    twice = text + NIGHTLY.replace("  nightly:", "  nightly-copy:").replace("table: t9", "table: t1")
    assert "E212" not in codes(team_yaml(tmp_path, twice))


# --- E3xx: output ---------------------------------------------------------------------------------

@pytest.fixture
def template_copy(tmp_path, monkeypatch):
    """templates/ copied to a tmp dir the renderer reads from; the test edits the copy."""
    copy_dir = tmp_path / "templates"
    shutil.copytree(render.TEMPLATE_DIR, copy_dir)
    monkeypatch.setattr(render, "TEMPLATE_DIR", copy_dir)
    render._environment.cache_clear()
    yield copy_dir
    render._environment.cache_clear()


def test_e301_template_render_error(tmp_path, template_copy):
    template = template_copy / "team.yaml.j2"
    text = template.read_text().replace("source.model.engine | json", "source.model.engine_name | json")
    template.write_text(text)
    result = compile_tree(write_tree(tmp_path))
    d = only(result.diagnostics, "E301")
    assert d.file == "templates/team.yaml.j2"
    assert d.line == line_of(text, "engine_name")
    assert "stack dmsctl-team-alpha" in d.message and "has no attribute 'engine_name'" in d.message
    assert not result.ok


BAD_TEMPLATE = """\
{
 "AWSTemplateFormatVersion": "2010-09-09",
 "Parameters": {"Unused": {"Type": "String"}},
 "Resources": {
  "Queue": {
   "Type": "AWS::SQS::Queue",
   "Properties": {"VisibilityTimeoutz": 30}
  }
 }
}
"""


def test_e302_w302_cfn_lint_findings_and_cache(tmp_path):
    linter = Linter(cache_dir=tmp_path / "lint")
    diags = linter.lint("dmsctl-team-alpha", BAD_TEMPLATE, "eu-west-1")
    error, warning = only(diags, "E302"), only(diags, "W302")
    assert error.file == warning.file == "<template dmsctl-team-alpha>"
    assert error.line == line_of(BAD_TEMPLATE, "VisibilityTimeoutz") and error.is_error
    assert "cfn-lint E3002" in error.message and "VisibilityTimeoutz" in error.message
    assert warning.line == line_of(BAD_TEMPLATE, "Unused") and warning.severity is Severity.WARNING
    assert "cfn-lint W2001" in warning.message
    assert (linter.linted, linter.cached) == (1, 0)

    again = Linter(cache_dir=tmp_path / "lint")
    assert again.lint("dmsctl-team-alpha", BAD_TEMPLATE, "eu-west-1") == diags
    assert (again.linted, again.cached) == (0, 1)  # cfn-lint did not run again


def _long_table_team(tables: int) -> dict:
    """One task with `tables` tables of long names: about 1 KB of TableMappings per table."""
    team = minimal_team()
    team["tasks"]["cdc"]["tables"] = [{"schema": "s" * 127, "table": f"t{i:05d}" + "x" * 120,
                                       "version": "v202001010000"} for i in range(tables)]
    return team


def _limit_diags(tmp_path, team: dict, code: str) -> Diagnostic:
    result = compile_tree(write_tree(tmp_path, teams={"alpha": team}))
    d = only(result.diagnostics, code)
    assert d.file == "<template dmsctl-team-alpha>"
    return d


def test_e303_mappings_over_2mb(tmp_path):
    d = _limit_diags(tmp_path, _long_table_team(2200), "E303")
    assert d.is_error
    assert "task dmsctl-alpha-cdc: TableMappings is 2,1" in d.message and "of 2,097,152 bytes" in d.message
    assert "over DMS's limit" in d.message


def test_w303_mappings_over_80_percent(tmp_path):
    d = _limit_diags(tmp_path, _long_table_team(1800), "W303")
    assert d.severity is Severity.WARNING
    assert "task dmsctl-alpha-cdc: TableMappings is 1,7" in d.message and "(84 %)" in d.message


def test_e304_template_over_1mb(tmp_path):
    d = _limit_diags(tmp_path, _long_table_team(1000), "E304")
    assert d.is_error
    assert "stack dmsctl-team-alpha: template is 1,0" in d.message and "of 1,000,000 bytes" in d.message


def test_w304_template_over_80_percent(tmp_path):
    d = _limit_diags(tmp_path, _long_table_team(800), "W304")
    assert d.severity is Severity.WARNING
    assert "stack dmsctl-team-alpha: template is 8" in d.message and "of CloudFormation's limit" in d.message


def test_i304_template_deployed_through_s3(tmp_path):
    d = _limit_diags(tmp_path, _long_table_team(60), "I304")
    assert d.severity is Severity.INFO
    assert "over the 51,200-byte inline limit: it is deployed through S3" in d.message


def _many_instances(count: int) -> dict:
    team = minimal_team()
    for i in range(count):
        team["instances"][f"spare{i}"] = {"class": "dms.t3.micro", "storage_gb": 5}
    return team


def test_e305_too_many_resources(tmp_path):
    d = _limit_diags(tmp_path, _many_instances(500), "E305")  # + role, source, instance, task
    assert d.is_error
    assert "stack dmsctl-team-alpha: 504 resources, over CloudFormation's 500" in d.message


def test_w305_resources_over_80_percent(tmp_path):
    d = _limit_diags(tmp_path, _many_instances(400), "W305")
    assert d.severity is Severity.WARNING
    assert "stack dmsctl-team-alpha: 404 of 500 resources" in d.message


def test_limits_warn_and_fail_at_the_documented_ratios():
    def stats(mapping_bytes=0, template_bytes=1000, resources=1):
        task = limits.TaskStats(task="t", tables=1, mapping_bytes=mapping_bytes)
        return limits.StackStats(stack="s", template_bytes=template_bytes, resources=resources, tasks=(task,))

    assert codes(limits.check(stats(mapping_bytes=int(0.8 * limits.MAPPINGS_MAX)))) == []
    assert codes(limits.check(stats(mapping_bytes=int(0.8 * limits.MAPPINGS_MAX) + 1))) == ["W303"]
    assert codes(limits.check(stats(mapping_bytes=limits.MAPPINGS_MAX))) == ["W303"]
    assert codes(limits.check(stats(mapping_bytes=limits.MAPPINGS_MAX + 1))) == ["E303"]
    assert codes(limits.check(stats(template_bytes=limits.TEMPLATE_INLINE_MAX))) == []
    assert codes(limits.check(stats(template_bytes=limits.TEMPLATE_INLINE_MAX + 1))) == ["I304"]
    assert codes(limits.check(stats(template_bytes=limits.TEMPLATE_S3_MAX))) == ["W304"]
    assert codes(limits.check(stats(template_bytes=limits.TEMPLATE_S3_MAX + 1))) == ["E304"]
    assert codes(limits.check(stats(resources=400))) == []
    assert codes(limits.check(stats(resources=401))) == ["W305"]
    assert codes(limits.check(stats(resources=501))) == ["E305"]


# --- the whole tree in one run ------------------------------------------------------------------------

def test_every_error_of_a_tree_is_reported_in_one_run(tmp_path):
    alpha = TEAM.replace("    tables:\n", "    pasued: true\n    tables:\n")  # schema error: file left out
    beta = (TEAM.replace("team: alpha", "team: beta").replace("target: s3-10min", "target: s3-5min")
            .replace("table: t1, version: v202001010000", "table: t1, version: v202002300000"))
    config = write_tree(tmp_path, teams={"alpha": alpha, "beta": beta})
    for diags in (compile_tree(config).diagnostics, validate_all(config)):
        errors = [d for d in diags if d.is_error]
        assert [(d.code, d.file.replace("\\", "/").rsplit("/", 1)[-1], d.line) for d in errors] == [
            ("E103", "alpha.yaml", line_of(alpha, "pasued")),
            ("E205", "beta.yaml", line_of(beta, "target: s3-5min")),
            ("E208", "beta.yaml", line_of(beta, "v202002300000")),
        ]


def test_validate_all_reports_an_error_that_only_occurs_in_prod(tmp_path):
    text = TEAM.replace("server: db.internal", "server:\n      staging: db.staging")
    config = write_tree(tmp_path, teams={"alpha": text})
    assert compile_tree(config, "staging").ok
    d = only(validate_all(config), "E203")
    assert in_file(d, ALPHA) and d.line == line_of(text, "staging: db.staging")
    assert "no value for environment 'prod'" in d.message


def test_diagnostics_are_json_serialisable_and_sorted(tmp_path):
    text = TEAM.replace("source: db", "source: dbb").replace("table: t1, version: v202001010000",
                                                            "table: t1, version: v202013011200")
    diags = list(compile_tree(write_tree(tmp_path, teams={"alpha": text})).diagnostics)
    assert diags == sorted(diags, key=Diagnostic.sort_key)
    rows = json.loads(format_json(diags))["findings"]
    assert [r["code"] for r in rows] == codes(diags)


def test_e207_team_source_endpoint_colliding_with_a_base_target(tmp_path):
    team = minimal_team("target")
    team["sources"] = {"x": team["sources"]["db"]}
    team["tasks"]["cdc"]["source"] = "x"
    base = copy.deepcopy(MINIMAL_BASE)
    base["targets"]["src-x"] = {"flush_interval_seconds": 60}
    result = compile_tree(write_tree(tmp_path, base=base, teams={"target": team}), "staging")
    found = [d for d in result.diagnostics if d.code == "E207"]
    assert len(found) == 1 and found[0].file.endswith("teams/target.yaml")
    assert "'dmsctl-target-src-x' collides with a target endpoint of base.yaml" in found[0].message


def test_e213_logging_keys_are_managed_by_dms(tmp_path):
    team = minimal_team()
    team["tasks"]["cdc"]["settings"] = {"Logging": {"CloudWatchLogGroup": "mine"}}
    result = compile_tree(write_tree(tmp_path, teams={"alpha": team}), "staging")
    found = [d for d in result.diagnostics if d.code == "E213"]
    assert len(found) == 1 and "DMS manages it" in found[0].message and "S3" not in found[0].message


def test_every_source_engine_compiles_cfn_lint_clean(tmp_path):
    engines = ["mysql", "mariadb", "aurora", "postgres", "aurora-postgresql", "sqlserver", "oracle"]
    team = minimal_team()
    team["sources"] = {e: {"engine": e, "server": "db.internal", "database": "app", "secret_id": f"dms/{e}"}
                       for e in engines}
    team["tasks"] = {f"t-{e}": {"source": e, "instance": "main", "target": "s3-10min", "migration_type": "cdc",
                                "tables": [{"schema": "app", "table": "t", "version": "v202001010000"}]}
                     for e in engines}
    result = compile_tree(write_tree(tmp_path, teams={"alpha": team}), "staging", Linter(cache_dir=tmp_path / "c"))
    assert result.ok and [d for d in result.diagnostics if d.code in ("E302", "W302")] == []
