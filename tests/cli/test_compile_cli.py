"""`dmsctl validate` / `dmsctl compile`: exit codes, formats, files written, no tracebacks."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dmsctl.deployer.cli import cli
from tests.helpers import EXAMPLES, minimal_team, write_tree


def run(*args, catch=True):
    return CliRunner().invoke(cli, list(args), catch_exceptions=catch)


def test_validate_examples_passes_for_every_environment():
    result = run("--config-dir", str(EXAMPLES), "validate", "--no-lint")
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_validate_reports_file_line_code_and_exits_1(tmp_path):
    team = "team: alpha\nowners: ['@acme/alpha']\nsources: {}\ninstances: {}\ntasks: {}\nsurprise: 1\n"
    config = write_tree(tmp_path, teams={"alpha": team})
    result = run("--config-dir", str(config), "validate", "--no-lint")
    assert result.exit_code == 1
    assert "teams/alpha.yaml:6:1 E103 error: unknown field 'surprise'" in result.output
    assert "Traceback" not in result.output


def test_validate_json_format_is_machine_readable(tmp_path):
    team = minimal_team()
    team["tasks"]["cdc"]["source"] = "nope"
    config = write_tree(tmp_path, teams={"alpha": team})
    result = run("--config-dir", str(config), "validate", "--no-lint", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["errors"] >= 1
    assert {d["code"] for d in doc["findings"]} == {"E205", "W210"}  # and the now-unused source
    assert all(d["file"].endswith("alpha.yaml") and d["line"] > 0 for d in doc["findings"])


def test_compile_writes_templates_mappings_and_manifest(tmp_path):
    out = tmp_path / "build"
    result = run("--config-dir", str(EXAMPLES), "compile", "--env", "prod", "--out", str(out), "--no-lint", "--stats")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "prod" / "manifest.json").read_text())
    assert manifest["env"] == "prod" and manifest["account_id"] == "210987654321"
    names = [s["name"] for s in manifest["stacks"]]
    assert names[0] == "dmsctl-base" and len(names) == 4
    for stack in manifest["stacks"]:
        assert (out / "prod" / stack["template_file"]).is_file()
        for task in stack["tasks"]:
            mappings = json.loads((out / "prod" / task["mappings_file"]).read_text())
            assert mappings["rules"]
    assert "of 2 MB left" in result.output


def test_compile_refuses_on_errors_and_writes_nothing(tmp_path):
    team = minimal_team()
    del team["owners"]
    config = write_tree(tmp_path, teams={"alpha": team})
    out = tmp_path / "build"
    result = run("--config-dir", str(config), "compile", "--out", str(out), "--no-lint")
    assert result.exit_code == 1
    assert "E105" in result.output
    assert not out.exists()


def test_compile_will_not_clear_a_directory_it_did_not_write(tmp_path):
    precious = tmp_path / "out" / "staging"
    precious.mkdir(parents=True)
    (precious / "keep.txt").write_text("mine")
    result = run("--config-dir", str(EXAMPLES), "compile", "--out", str(tmp_path / "out"), "--no-lint")
    assert result.exit_code == 1
    assert (precious / "keep.txt").read_text() == "mine"
    assert "not written by dmsctl compile" in result.output


def test_unknown_environment_is_a_clear_error():
    result = run("--config-dir", str(EXAMPLES), "compile", "--env", "qa", "--no-lint")
    assert result.exit_code == 1
    assert "E204" in result.output and "unknown environment 'qa'" in result.output


def test_unexpected_exceptions_print_one_line_without_debug(monkeypatch):
    import dmsctl.deployer.cli.compile_cmd as cmd

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cmd, "compile_tree", boom)
    result = run("--config-dir", str(EXAMPLES), "compile", "--no-lint")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: kaboom" in result.output
    assert "Traceback" not in result.output
    debug = run("--debug", "--config-dir", str(EXAMPLES), "compile", "--no-lint")
    assert isinstance(debug.exception, RuntimeError)


def test_validate_keeps_its_compile_cache_under_the_cache_dir_and_can_do_without(tmp_path, monkeypatch):
    config = write_tree(tmp_path, teams={"alpha": minimal_team()})
    monkeypatch.setenv("DMSCTL_CACHE_DIR", str(tmp_path / "cache"))
    first = run("--config-dir", str(config), "validate", "--no-lint")
    assert first.exit_code == 0, first.output
    parsed = list((tmp_path / "cache" / "compile" / "parse").glob("*.pickle"))
    rendered = list((tmp_path / "cache" / "compile" / "stacks").glob("*.pickle"))
    assert len(parsed) == 2 and len(rendered) == 2  # base + alpha; alpha in staging and in prod
    again = run("--config-dir", str(config), "validate", "--no-lint")
    assert again.output == first.output and again.exit_code == 0

    monkeypatch.setenv("DMSCTL_CACHE_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("DMSCTL_COMPILE_CACHE", "off")
    off = run("--config-dir", str(config), "validate", "--no-lint")
    assert off.output == first.output and off.exit_code == 0
    assert not (tmp_path / "other" / "compile").exists()
