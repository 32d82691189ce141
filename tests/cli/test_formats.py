"""One finding type, three formats: `validate`/`compile --format text|json|github`, and every command with
`--format json` reporting its errors as JSON on stdout with a non-zero exit (never as text)."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from dmsctl.compiler.findings import Finding, Severity, format_github, format_json, format_line, format_text
from dmsctl.deployer.cli import cli
from dmsctl.deployer.cli.main import COMMANDS, LazyGroup
from tests.compiler.test_codes import TEAM
from tests.helpers import GOLDEN, REPO, compare_golden, write_tree


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- the formatters ---------------------------------------------------------------------------------------------

def test_github_annotations_escape_percent_cr_and_lf_and_property_separators():
    f = Finding("E104", "100% wrong:\r\nsecond line, really", file="configs/teams/a,b:c.yaml", line=3, column=7,
                hint="quote it")
    assert format_github([f]).splitlines()[0] == (
        "::error file=configs/teams/a%2Cb%3Ac.yaml,line=3,col=7,title=E104::"
        "100%25 wrong:%0D%0Asecond line, really; quote it")


@pytest.mark.parametrize("finding, command", [
    (Finding("W210", "unused", file="configs/teams/a.yaml", line=2, severity=Severity.WARNING),
     "::warning file=configs/teams/a.yaml,line=2,col=1,title=W210::unused"),
    (Finding("I304", "via S3", file="<template dmsctl-team-a>", severity=Severity.INFO),
     "::notice title=I304::<template dmsctl-team-a>: via S3"),  # a generated template is no file to annotate
    (Finding("P105", "holds data", resource="food/foodsearch", hint="bump the version"),
     "::error title=P105::food/foodsearch: holds data; bump the version"),
    (Finding("W106", "no team files", file="configs/teams", severity=Severity.WARNING),
     "::warning file=configs/teams,title=W106::no team files"),
])
def test_github_annotations_name_the_file_only_when_there_is_one(finding, command):
    assert format_github([finding]).splitlines() == [command, f"{int(finding.is_error)} error(s), "
                                                              f"{int(finding.severity is Severity.WARNING)} warning(s)"]


def test_every_format_shows_the_hint_and_the_acknowledgement():
    f = Finding("P108", "stack s will be DELETED", severity=Severity.WARNING, resource="payments",
                hint="restore the file", acknowledged_by="--allow-delete")
    line = "payments P108 warning: stack s will be DELETED; restore the file (acknowledged by --allow-delete)"
    assert format_line(f) == line and format_text([f]).splitlines()[0] == line
    assert format_github([f]).splitlines()[0] == f"::warning title=P108::{line.replace(' P108 warning', '')}"
    row = json.loads(format_json([f]))["findings"][0]
    assert (row["hint"], row["acknowledged_by"], row["resource"]) == ("restore the file", "--allow-delete",
                                                                       "payments")


def test_json_keeps_non_ascii_text_as_written():
    text = format_json([Finding("E104", 'schema: "café" is invalid', file="a.yaml", line=1)])
    assert 'café' in text and '\\u00e9' not in text


def test_a_plan_check_read_back_from_json_is_the_same_finding():
    f = Finding("P110", "drift", severity="warning", resource="a/t", acknowledged_by="--allow-drift")
    assert f.severity is Severity.WARNING and f == Finding(**json.loads(json.dumps(f.__dict__)))


# --- a tree with several errors: validate in each format, with its exit code ---------------------------------

def several_errors(tmp_path) -> None:
    alpha = TEAM.replace("    source: db\n", "    source: dbb\n")  # E205 (and W210: db is unused)
    beta = TEAM.replace("team: alpha", "team: beta").replace("server: db.internal", "server: db.internal: 5")
    gamma = (TEAM.replace("team: alpha", "team: gamma").replace("{schema: app, table: t0,", "{schema: café, table: t0,")
             .replace("table: t1,", "table: no,").replace("    storage_gb: 50\n", "    storage_gb: 50\n    sise: 1\n"))
    write_tree(tmp_path, teams={"alpha": alpha, "beta": beta, "gamma": gamma})


def test_validate_of_several_errors_matches_the_golden_files(tmp_path, monkeypatch, update_golden):
    """cfn-lint style: each format's output next to its exit code, for one tree with errors in three files."""
    several_errors(tmp_path)
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for fmt, name in (("github", "validate.github.txt"), ("json", "validate.json"), ("text", "validate.txt")):
        result = run("validate", "--no-lint", "--format", fmt)
        shown, silent = (result.stderr, result.stdout) if fmt == "text" else (result.stdout, result.stderr)
        assert (result.exit_code, silent) == (1, ""), result.output
        outputs[name] = shown
    doc = json.loads(outputs["validate.json"])
    assert (doc["errors"], doc["warnings"]) == (5, 1)
    assert compare_golden(outputs, GOLDEN / "validate" / "several-errors", update_golden) == []


def test_compile_github_format_annotates_errors_and_exits_1(tmp_path, monkeypatch):
    several_errors(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("compile", "--no-lint", "--format", "github", "--out", str(tmp_path / "build"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "5 error(s), 1 warning(s)" and all(line.startswith("::") for line in lines[:-1])
    assert not (tmp_path / "build").exists()


# --- every --format json: errors as JSON on stdout -----------------------------------------------------------------

JSON_COMMANDS = {
    "validate": ["validate", "--no-lint"],
    "compile": ["compile", "--no-lint"],
    "plan": ["plan", "--no-lint"],
    "apply": ["apply", "--no-lint", "--yes"],
    "run": ["run", "alpha/cdc"],
    "checkpoints": ["checkpoints", "alpha/cdc"],
    "metrics": ["metrics", "alpha/cdc"],
}


def test_every_command_with_a_json_format_is_checked_below():
    group = LazyGroup()
    with_json = set()
    for name in COMMANDS:
        command = group.get_command(click.Context(group), name)
        for param in command.params if command else ():
            if param.name == "fmt" and isinstance(param.type, click.Choice) and "json" in param.type.choices:
                with_json.add(name)
    assert with_json == set(JSON_COMMANDS)


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_a_config_error_is_json_on_stdout_with_exit_1(tmp_path, monkeypatch, name):
    write_tree(tmp_path, teams={"alpha": TEAM.replace("    source: db\n", "    source: dbb\n")})
    monkeypatch.chdir(tmp_path)
    result = run(*JSON_COMMANDS[name], "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert [(f["code"], f["file"], f["line"]) for f in doc["findings"] if f["severity"] == "error"] == [
        ("E205", "configs/teams/alpha.yaml", 17)]
    if name not in ("validate", "compile"):
        assert doc["error"] == "the configuration has errors: nothing was planned"


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_any_other_error_is_json_on_stdout_too(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # no configs/ here or above
    monkeypatch.delenv("DMSCTL_CONFIG_DIR", raising=False)
    result = run(*JSON_COMMANDS[name], "--format", "json")
    assert result.exit_code == 1 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["error"].startswith("no configs/base.yaml in ") and doc["findings"] == []


def test_an_internal_error_is_json_too(tmp_path, monkeypatch):
    from dmsctl.deployer.cli import compile_cmd

    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)

    def kaboom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(compile_cmd, "compile_tree", kaboom)
    result = run("compile", "--no-lint", "--format", "json")
    assert result.exit_code == 1 and result.stderr == ""
    assert json.loads(result.stdout)["error"].startswith("internal error: RuntimeError: kaboom")


def test_text_format_errors_stay_text_on_stderr(tmp_path, monkeypatch):
    write_tree(tmp_path, teams={"alpha": TEAM.replace("    source: db\n", "    source: dbb\n")})
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--no-lint")
    assert result.exit_code == 1 and result.stdout == ""
    assert "configs/teams/alpha.yaml:17:13 E205 error: " in result.stderr
    assert result.stderr.rstrip().endswith("error: the configuration has errors: nothing was planned")


def test_the_workflows_validate_with_github_annotations():
    runs = [line.strip() for path in sorted((REPO / ".github" / "workflows").glob("*.yml"))
            for line in path.read_text().splitlines() if "dmsctl validate" in line]
    assert runs and all("--format github" in line for line in runs), runs
