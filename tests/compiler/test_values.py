"""Values are checked at `dmsctl validate`, down to what DMS accepts: instance classes, storage, engines,
ports, every ReplicationTaskSettings key with its type and range, schedules; names without hidden line
breaks; messages for people (no regular expressions, no jsonschema wording, no escaped unicode); each
finding at the file:line:col of the offending value, all of them in one run."""

from __future__ import annotations

import json
import re

import jsonschema._keywords
import pytest
from click.testing import CliRunner

from dmsctl.compiler import schema_check
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.data import schemas_dir
from dmsctl.compiler.diagnostics import format_text
from dmsctl.compiler.findings import format_line
from dmsctl.compiler.settings import defaults
from dmsctl.deployer.cli import cli
from tests.compiler.test_codes import ALPHA, TEAM, col_of, in_file, line_of, only, team_yaml
from tests.helpers import GOLDEN, REPO, compare_golden, write_tree

SETTINGS_AT = "    tables:\n"


def with_settings(block: str) -> str:
    """TEAM with `settings:` (indented YAML lines under it) in task cdc."""
    return TEAM.replace(SETTINGS_AT, "    settings:\n" + block + SETTINGS_AT)


def at(d, text: str, needle: str, occurrence: int = 1) -> None:
    assert in_file(d, ALPHA)
    assert (d.line, d.column) == (line_of(text, needle, occurrence), col_of(text, needle, occurrence)), d


# --- values DMS would refuse ----------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, needle, message", [
    ("class: dms.t3.medium", "class: dms.t3.mediun", "dms.t3.mediun",
     "instances.main.class: \"dms.t3.mediun\" is not a DMS replication instance class; did you mean "
     "'dms.t3.medium'? (allowed: dms.t2.{micro,small,medium,large}, dms.t3.{micro,small,medium,large}, "
     "dms.c4.{large,xlarge,2xlarge,4xlarge}, dms.c5.{"),
    ("class: dms.t3.medium", "class: {staging: dms.r5.large, prod: dms.r9.large}", "dms.r9.large",
     "instances.main.class.prod: \"dms.r9.large\" is not a DMS replication instance class; did you mean "
     "'dms.r5.large'?"),
    ("storage_gb: 50", "storage_gb: 4", "4",
     "instances.main.storage_gb: 4 is out of range: must be an integer from 5 to 6144"),
    ("storage_gb: 50", "storage_gb: 6145", "6145",
     "instances.main.storage_gb: 6145 is out of range: must be an integer from 5 to 6144"),
    ("engine: mysql", "engine: mysq", "mysq",
     'sources.db.engine: "mysq" is not one of "mysql", "mariadb", "aurora", "postgres", "aurora-postgresql", '
     "\"sqlserver\", \"oracle\"; did you mean 'mysql'?"),
    ("server: db.internal", "server: db.internal\n    port: 0", "port: 0",
     "sources.db.port: 0 is out of range: must be an integer from 1 to 65535"),
    ("server: db.internal", "server: db.internal\n    port: {staging: 3306, prod: 65536}", "65536",
     "sources.db.port.prod: 65536 is out of range: must be an integer from 1 to 65535"),
    ("server: db.internal", "server: db.internal\n    ssl_mode: verify", "verify",
     'sources.db.ssl_mode: "verify" is not one of "none", "require", "verify-ca", "verify-full"'),
    ("engine: mysql", "engine: [mysql]", "[mysql]",
     'sources.db.engine: expected one of "mysql", "mariadb", "aurora", "postgres", "aurora-postgresql", '
     '"sqlserver", "oracle", got a list'),
], ids=["instance-class", "instance-class-per-env", "storage-low", "storage-high", "engine", "port-0",
        "port-per-env", "ssl-mode", "engine-list"])
def test_instance_source_values_are_checked(tmp_path, old, new, needle, message):
    text = TEAM.replace(old, new)
    d = only(team_yaml(tmp_path, text), "E104")
    skip = len("port: ") if needle == "port: 0" else 0
    assert (d.line, d.column) == (line_of(text, needle), col_of(text, needle) + skip)
    assert in_file(d, ALPHA)
    assert message in d.message


@pytest.mark.parametrize("block, needle, code, message", [
    ('      FullLoadSettings: {MaxFullLoadSubTasks: "lots"}\n', '"lots"', "E104",
     'tasks.cdc.settings.FullLoadSettings.MaxFullLoadSubTasks: expected an integer from 1 to 49, got "lots"'),
    ("      FullLoadSettings: {MaxFullLoadSubTasks: 50}\n", "50}", "E104",
     "tasks.cdc.settings.FullLoadSettings.MaxFullLoadSubTasks: 50 is out of range: must be an integer from 1 "
     "to 49"),
    ("      FullLoadSettings: {CommitRate: 50001}\n", "50001", "E104",
     "FullLoadSettings.CommitRate: 50001 is out of range: must be an integer from 1 to 50000"),
    ("      StreamBufferSettings: {CtrlStreamBufferSizeInMB: 9}\n", "9", "E104",
     "StreamBufferSettings.CtrlStreamBufferSizeInMB: 9 is out of range: must be an integer from 1 to 8"),
    ("      ChangeProcessingTuning: {StatementCacheSize: 201}\n", "201", "E104",
     "ChangeProcessingTuning.StatementCacheSize: 201 is out of range: must be an integer from 0 to 200"),
    ("      ErrorBehavior: {RecoverableErrorCount: -2}\n", "-2", "E104",
     "ErrorBehavior.RecoverableErrorCount: -2 is out of range: must be an integer of at least -1"),
    ("      ErrorBehavior: {ApplyErrorInsertPolicy: UPDATE_RECORD}\n", "UPDATE_RECORD", "E104",
     'ErrorBehavior.ApplyErrorInsertPolicy: "UPDATE_RECORD" is not one of "IGNORE_RECORD", "LOG_ERROR", '
     '"SUSPEND_TABLE", "STOP_TASK", "INSERT_RECORD"'),
    ("      TargetMetadata: {SupportLobs: yes please}\n", "yes please", "E104",
     'TargetMetadata.SupportLobs: expected true or false, got "yes please"'),
    ("      Logging:\n        LogComponents: [{Id: SORTR, Severity: LOGGER_SEVERITY_DEFAULT}]\n", "SORTR", "E104",
     "Logging.LogComponents[0].Id: \"SORTR\" is not an allowed value; did you mean 'SORTER'? (allowed: ADDONS,"),
    ("      ValidationSettings: {EnableValidation: true, ThreadCount: 0}\n", "0}", "E104",
     "ValidationSettings.ThreadCount: 0 is out of range: must be an integer of at least 1"),
    ("      MaxFullLoadSubTask: 4\n", "MaxFullLoadSubTask", "E211",
     "task 'cdc': unknown task setting 'MaxFullLoadSubTask'; did you mean 'FullLoadSettings.MaxFullLoadSubTasks'?"),
    ("      ValidationSettings: {EnableValidaton: true}\n", "EnableValidaton", "E211",
     "unknown task setting 'ValidationSettings.EnableValidaton'; did you mean 'ValidationSettings.EnableValidation'?"),
], ids=["type", "range", "commit-rate", "ctrl-buffer", "statement-cache", "recoverable-count", "enum",
        "boolean", "log-component", "validation-threads", "key-outside-its-section", "nested-typo"])
def test_task_setting_keys_types_and_ranges(tmp_path, block, needle, code, message):
    text = with_settings(block)
    d = only(team_yaml(tmp_path, text), code)
    at(d, text, needle)
    assert message in d.message


def test_the_default_task_settings_satisfy_the_schema():
    assert list(schema_check.validator("settings").iter_errors(defaults())) == []


def test_every_error_of_a_file_is_reported_in_one_run_with_exit_code_1(tmp_path):
    text = with_settings('      FullLoadSettings: {MaxFullLoadSubTasks: "lots", CommitRate: 0}\n'
                         "      StreamBufferSettings: {StreamBufferCount: -1}\n") \
        .replace("class: dms.t3.medium", "class: dms.t3.mediun").replace("storage_gb: 50", "storage_gb: 1")
    config = write_tree(tmp_path, teams={"alpha": text})
    result = CliRunner().invoke(cli, ["--config-dir", str(config), "validate", "--no-lint"])
    assert result.exit_code == 1
    found = [line for line in result.output.splitlines() if " E104 " in line]
    assert [int(line.split(":")[1]) for line in found] == [
        line_of(text, "dms.t3.mediun"), line_of(text, "storage_gb: 1"), line_of(text, '"lots"'),
        line_of(text, '"lots"'), line_of(text, "StreamBufferCount")]
    assert result.output.rstrip().endswith("5 error(s), 0 warning(s)")


def test_validate_output_of_bad_values_matches_the_golden_file(tmp_path, update_golden, monkeypatch):
    text = (with_settings('      FullLoadSettings: {MaxFullLoadSubTasks: "lots", TargetTablePrepMode: DROP}\n'
                          "      ErrorBehavior: {DataErrorPolicy: LOG}\n      MaxFullLoadSubTask: 3\n")
            .replace("class: dms.t3.medium", "class: dms.t3.mediun").replace("storage_gb: 50", "storage_gb: 7000")
            .replace("table: t0,", "table: no,").replace("engine: mysql", "engine: mysq"))
    config = write_tree(tmp_path, teams={"alpha": text})
    monkeypatch.chdir(tmp_path)
    report = format_text(compile_tree(config.relative_to(tmp_path)).diagnostics) + "\n"
    assert compare_golden({"values.txt": report}, GOLDEN / "validate" / "values", update_golden) == []


# --- schedules -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, message", [
    ('"rate(1 day)\\n"', "remove the spaces around the expression"),
    ("rate(0 minutes)", "a rate must be at least 1"),
    ("cron(0 25 * * ? *)", "hours field: 25 is outside 0-23"),
])
def test_schedule_expressions_are_checked(tmp_path, expression, message):
    text = TEAM.replace("    migration_type: full-load-and-cdc\n",
                        f"    migration_type: full-load-and-cdc\n    schedule:\n      expression: {expression}\n")
    d = only(team_yaml(tmp_path, text), "E214")
    at(d, text, expression)
    assert message in d.message


# --- names: no hidden line breaks or control characters --------------------------------------------------

@pytest.mark.parametrize("old, new, needle, message", [
    ("{schema: app, table: t0,", '{schema: app, table: "t0\\n",', '"t0\\n"',
     'tasks.cdc.tables[0].table: "t0\\n" is invalid: must be a name of letters, digits and _ $ # - '
     "(not starting with a digit, at most 128 characters) (it contains a line break or another control "
     "character)"),
    ("{schema: app, table: t0,", '{schema: "app\\t", table: t0,', '"app\\t"', "(it contains a line break"),
    ("team: alpha", 'team: "alpha\\n"', '"alpha\\n"', 'team: "alpha\\n" is invalid: must be a name of lower-case'),
    ("  cdc:\n", '  "cdc\\n":\n', '"cdc', "invalid name 'cdc\\n' in tasks: must be a name of lower-case letters"),
    ("    secret_id: dms/alpha/db", '    secret_id: "dms/alpha/db\\n"', '"dms/',
     'sources.db.secret_id: "dms/alpha/db\\n" is invalid'),
], ids=["table", "schema", "team", "task-key", "secret"])
def test_trailing_newlines_and_control_characters_in_names_are_refused(tmp_path, old, new, needle, message):
    text = TEAM.replace(old, new)
    d = only(team_yaml(tmp_path, text), "E104")
    at(d, text, needle)
    assert message in d.message
    assert "\n" not in d.message


@pytest.mark.parametrize("pattern, good, bad", [
    ("^[a-z]+$", "abc", "abc\n"),
    ("^[A-Za-z0-9_$#-]+$", "a$b", "a$b\n"),  # a `$` inside a class is a character, not the end
    (r"^a\$$", "a$", "a$\n"),  # an escaped `$` too
])
def test_patterns_are_ecma_262_where_dollar_matches_only_at_the_end(pattern, good, bad):
    assert re.search(pattern, bad)  # what Python's own `$` would let through
    assert schema_check.ecma_pattern(pattern).search(good)
    assert not schema_check.ecma_pattern(pattern).search(bad)


def _patterns(node, found):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.append(node)
        for value in node.values():
            _patterns(value, found)
    elif isinstance(node, list):
        for value in node:
            _patterns(value, found)
    return found


@pytest.mark.parametrize("name", ["base.schema.json", "team.schema.json", "task-settings.schema.json"])
def test_every_schema_pattern_says_in_words_what_it_wants(name):
    for node in _patterns(json.loads((schemas_dir() / name).read_text()), []):
        assert node.get("patternErrorMessage", "").startswith("must be "), node


# --- messages for people -----------------------------------------------------------------------------------

INTERNALS = ("is not valid under any of the given schemas", "is not of type", "does not match", "non-unique",
             "is too short", "is too long", "should be non-empty", "^[", "$'", "\\u00", "<file>")


@pytest.mark.parametrize("old, new", [
    ("storage_gb: 50", "storage_gb: fifty"),
    ("storage_gb: 50", "storage_gb: [50]"),
    ("server: db.internal", "server: 'db internal'"),
    ("server: db.internal", "server: {staging: 'db internal', prod: db.internal}"),
    ("{schema: app, table: t0,", "{schema: café, table: t0,"),
    ("secret_id: dms/alpha/db", "secret_id: 12"),
    ('owners: ["@acme/alpha"]', 'owners: ["acme"]'),
    ('owners: ["@acme/alpha"]', 'owners: "@acme/alpha"'),
    ("class: dms.t3.medium", "class: 3"),
    ("engine: mysql", "engine: [mysql]"),
    ("storage_gb: 50", "storage_gb: 50\n    sise: 1"),
    ("team: alpha\n", "team: alpha\nsurprise: 1\n"),
    ("team: alpha\n", ""),
    ("secret_id: dms/alpha/db", "secret_id: ''"),
    ('owners: ["@acme/alpha"]', "owners: []"),
    ("    tables:\n", "    settings: {FullLoadSettings: {CommitRate: 1.5}}\n    tables:\n"),
], ids=["oneOf-type", "oneOf-list", "pattern", "per-env-pattern", "unicode", "number-for-text", "owner",
        "string-for-list", "number-for-class", "list-for-enum", "unknown-field", "unknown-top-field",
        "missing-top-field", "empty-text", "empty-list", "float-setting"])
def test_messages_show_no_jsonschema_internals_or_escaped_unicode(tmp_path, old, new):
    diags = team_yaml(tmp_path, TEAM.replace(old, new))
    assert diags and all(d.code.startswith("E1") for d in diags if d.is_error), diags
    for d in diags:
        assert not any(s in d.message for s in INTERNALS), d.message
    if "café" in new:
        assert '"café"' in only(diags, "E104").message


@pytest.mark.parametrize("old, new, needle, message", [
    ("table: t0,", "table: no,", "no,",
     'tasks.cdc.tables[0].table: expected a name of letters, digits and _ $ # - (not starting with a digit, at '
     'most 128 characters), got false (YAML reads no as false); write "no" in quotes to mean the text'),
    ("secret_id: dms/alpha/db", "secret_id: 2020", "2020",
     'sources.db.secret_id: expected a Secrets Manager secret name'),
    ("secret_id: dms/alpha/db", "secret_id: 2020", "2020",
     '(YAML reads 2020 as a number); write "2020" in quotes to mean the text'),
    ("{schema: app, table: t0,", "{schema: app, table: off,", "off",
     "(YAML reads off as false)"),
], ids=["no", "number", "number-hint", "off"])
def test_yaml_1_1_booleans_and_numbers_where_text_is_meant_suggest_quotes(tmp_path, old, new, needle, message):
    text = TEAM.replace(old, new)
    d = only(team_yaml(tmp_path, text), "E104")
    at(d, text, needle)
    assert message in d.message


@pytest.mark.parametrize("old, new", [
    ("schema: app, table: t0,", "schema: 2020, table: t0,"),  # "2020" is no schema name either: it starts with a digit
    ("migration_type: full-load-and-cdc", "migration_type: 3"),
    ("version: v202001010000}", "version: 202001010000}"),
], ids=["schema-name", "enum", "version"])
def test_no_advice_to_quote_a_value_that_would_still_be_wrong_quoted(tmp_path, old, new):
    d = only(team_yaml(tmp_path, TEAM.replace(old, new, 1)), "E104")
    assert "in quotes" not in d.message and "YAML reads" not in d.message, d.message


@pytest.mark.parametrize("text, hint", [
    (TEAM.replace("server: db.internal", "server: db.internal: 5"), "a value that contains ': ' must be quoted"),
    (TEAM.replace("    class: dms.t3.medium", "\tclass: dms.t3.medium"), "indent with spaces, not tabs"),
    (TEAM.replace("storage_gb: 50", 'storage_gb: "50'), "the quoted value opened on line 13 is not closed"),
    (TEAM.replace("{schema: app, table: t1, version: v202001010000}", "{schema: app, table: t1"),
     "the { opened on line 23 is not closed"),
    (TEAM.replace("server: db.internal", "server: db\x07internal"), "remove the control character"),
], ids=["mapping-value", "tab", "quote", "bracket", "control-character"])
def test_yaml_syntax_errors_come_with_a_hint(tmp_path, text, hint):
    d = only(team_yaml(tmp_path, text), "E100")
    assert d.message.startswith("invalid YAML: ") and hint in d.hint, d
    assert d.file.endswith(ALPHA) and d.line > 0 and f"; {d.hint}" in format_line(d)


# --- one team, one file; references point at themselves --------------------------------------------------

def test_two_files_for_one_team_are_reported_once(tmp_path):
    config = write_tree(tmp_path, teams={"alpha": TEAM, "alpha-copy": TEAM})
    diags = compile_tree(config).diagnostics
    errors = [d for d in diags if d.is_error]
    assert [d.code for d in errors] == ["E221"], errors
    d = errors[0]
    assert in_file(d, "configs/teams/alpha-copy.yaml") and (d.line, d.column) == (1, 7)
    assert "team 'alpha' is also defined in " in d.message and d.message.count("alpha.yaml") == 2


def test_e205_points_at_the_reference_itself(tmp_path):
    text = TEAM.replace("    source: db\n", "    description: x\n    source: dbb\n")
    d = only(team_yaml(tmp_path, text), "E205")
    at(d, text, "dbb")


# --- uniqueItems: linear, and both copies are named ------------------------------------------------------------

def test_duplicates_name_both_lines_and_need_no_quadratic_check(tmp_path, monkeypatch):
    def quadratic(*args, **kwargs):
        raise AssertionError("jsonschema's uniqueItems (quadratic for unsortable lists) was used")

    monkeypatch.setattr(jsonschema._keywords, "uniq", quadratic)
    owners = [f'"@acme/o{i}"' for i in range(3000)] + ["1", '"@acme/o7"', '{a: 1}', '{a: 1.0}']
    text = TEAM.replace('owners: ["@acme/alpha"]', "owners:\n" + "".join(f"  - {o}\n" for o in owners))
    diags = team_yaml(tmp_path, text)
    twice = [d for d in diags if "listed twice" in d.message]
    first_o7, first_a = line_of(text, '- "@acme/o7"'), line_of(text, "{a: 1}")
    assert [(d.line, d.message) for d in twice] == [
        (line_of(text, '- "@acme/o7"', 2),
         f'owners[3001]: "@acme/o7" is listed twice (first at line {first_o7}): remove one'),
        (line_of(text, "{a: 1.0}"), f"owners[3003]: a mapping is listed twice (first at line {first_a}): remove one")]


def test_every_compile_code_is_documented():
    source = "".join(p.read_text() for p in (REPO / "compiler").glob("*.py"))
    emitted = set(re.findall(r'"([EWI]\d{3})"', source))
    documented = set(re.findall(r"^### ([EWI]\d{3})(?: / ([EWI]\d{3}))?(?: / ([EWI]\d{3}))?:",
                                (REPO / "docs" / "CODES.md").read_text(), re.M))
    assert emitted and emitted <= {code for row in documented for code in row if code}
