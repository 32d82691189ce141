"""Command-line conventions: --version, exit codes, config discovery, DMSCTL_* variables, colour, help,
`dmsctl schema`, and user mistakes reported as errors (never "internal error")."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import click
import pytest
from click.testing import CliRunner

from dmsctl.compiler.data import schemas_dir
from dmsctl.deployer.cli import cli
from dmsctl.deployer.cli.context import use_color
from dmsctl.deployer.cli.main import COMMANDS, EXIT_USAGE
from tests.helpers import minimal_team, write_tree


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_version_is_the_installed_distribution_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dmsctl {metadata.version('dmsctl')}"


@pytest.mark.parametrize("args", [
    ["plan", "--bogus"],
    ["validate", "--format", "yaml"],
    ["apply", "--parallel", "0"],
    ["no-such-command"],
    ["schema"],
    ["run"],  # TEAM/TASK missing
])
def test_usage_errors_exit_64_never_0_or_2(args):
    result = run(*args)
    assert result.exit_code == EXIT_USAGE == 64, result.output
    assert "Traceback" not in result.output


def test_usage_error_exit_code_in_a_real_process(tmp_path):
    # outside the repository: a dmsctl started here would discover the live configs/ (tests/conftest.py)
    proc = subprocess.run([sys.executable, "-m", "dmsctl", "plan", "--bogus"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 64 and "No such option" in proc.stderr


def test_help_is_exit_0():
    assert run("--help").exit_code == 0
    assert run("plan", "--help").exit_code == 0


def _commands():
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        yield name, command
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                yield f"{name} {sub}", command.get_command(ctx, sub)


def test_every_option_has_help_and_every_command_an_example():
    missing = []
    for name, command in _commands():
        if not isinstance(command, click.Group) and "Example: dmsctl " not in (command.help or ""):
            missing.append(f"{name}: no 'Example: dmsctl ...' in its help")
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{name} {param.opts[0]}: no help")
    assert missing == []


def test_the_lazy_listing_names_exactly_the_commands_that_exist():
    ctx = click.Context(cli)
    for name in COMMANDS:
        assert cli.get_command(ctx, name).name in (name, name.replace("-", "_"))


def test_help_and_version_import_neither_boto3_nor_the_compiler():
    code = ("import sys\nfrom dmsctl.deployer.cli.main import cli\n"
            "try:\n    cli.main(['--help'], prog_name='dmsctl')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('boto3', 'botocore', 'dmsctl.compiler.build', 'jinja2', 'cfnlint') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_validating_a_valid_tree_does_not_import_jsonschema(tmp_path):
    """jsonschema only words the errors of an invalid file (the fast check decides validity): a valid tree
    never pays its import; an invalid one does, and gets jsonschema's positioned messages."""
    config = write_tree(tmp_path)
    code = ("import sys\nfrom dmsctl.deployer.cli.main import cli\n"
            "try:\n    cli.main(sys.argv[1:], prog_name='dmsctl')\nexcept SystemExit as e:\n    code = e.code\n"
            "print(code, 'jsonschema' in sys.modules)")
    args = [sys.executable, "-c", code, "--config-dir", str(config), "validate", "--no-lint"]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "0 False", proc.stdout + proc.stderr
    team = next((config / "teams").glob("*.yaml"))
    team.write_text(team.read_text() + "unknown_field: 1\n")
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "1 True" and "E103" in proc.stdout + proc.stderr


# -- config discovery -------------------------------------------------------------------------------------
def test_config_is_found_from_any_folder_below_the_repository(tmp_path, monkeypatch):
    config = write_tree(tmp_path)
    for where in (tmp_path, config, config / "teams"):
        monkeypatch.chdir(where)
        result = run("validate", "--no-lint")
        assert result.exit_code == 0, (where, result.output)
        assert "0 error(s)" in result.output


def test_diagnostics_name_files_relative_to_where_you_are(tmp_path, monkeypatch):
    write_tree(tmp_path, teams={"alpha": "team: alpha\nowners: ['@acme/alpha']\nsources: {}\ninstances: {}\n"
                                         "tasks: {}\nsurprise: 1\n"})
    monkeypatch.chdir(tmp_path)
    assert "configs/teams/alpha.yaml:6:1 E103" in run("validate", "--no-lint").output
    monkeypatch.chdir(tmp_path / "configs" / "teams")
    assert run("validate", "--no-lint").output.startswith("alpha.yaml:")
    assert "\nalpha.yaml:6:1 E103" in run("validate", "--no-lint").output


def test_no_config_anywhere_is_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 1
    assert "no configs/base.yaml in" in result.output and "--config-dir" in result.output
    assert "internal error" not in result.output


def test_config_dir_option_and_variable_override_discovery(tmp_path, monkeypatch):
    here = write_tree(tmp_path / "here")
    there = write_tree(tmp_path / "there", teams={"beta": minimal_team("beta"), "alpha": "team: [broken\n"})
    monkeypatch.chdir(here.parent)
    assert run("validate", "--no-lint").exit_code == 0
    assert run("--config-dir", str(there), "validate", "--no-lint").exit_code == 1
    assert run("validate", "--no-lint", env={"DMSCTL_CONFIG_DIR": str(there)}).exit_code == 1


def test_dmsctl_env_picks_the_environment(tmp_path, monkeypatch):
    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("compile", "--no-lint", "--out", str(tmp_path / "out"), env={"DMSCTL_ENV": "prod"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "prod" / "manifest.json").is_file()
    assert not (tmp_path / "out" / "staging").exists()


def test_other_options_through_dmsctl_command_option(tmp_path, monkeypatch):
    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("validate", "--no-lint", env={"DMSCTL_VALIDATE_FORMAT": "json"})
    assert json.loads(result.output)["errors"] == 0
    assert "DMSCTL_PLAN_ALLOW_REPLACE" in run("plan", "--help").output
    assert "DMSCTL_SANDBOX_SERVE_PORT" in run("sandbox", "serve", "--help").output
    result = run("validate", "--no-lint", env={"DMSCTL_VALIDATE_FORMAT": "yaml"})
    assert result.exit_code == 64 and "yaml" in result.output


def test_unknown_env_is_an_error_not_a_crash(tmp_path, monkeypatch):
    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--env", "nosuch", "--no-lint")
    assert result.exit_code == 1 and "nosuch" in result.output and "internal error" not in result.output


# -- user mistakes ----------------------------------------------------------------------------------------
def test_unknown_profile_is_an_error_with_the_reason(tmp_path, monkeypatch):
    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    result = run("plan", "--no-lint", "--profile", "nosuch")
    assert result.exit_code == 1
    assert "error: AWS profile 'nosuch' not found: check --profile" in result.output
    assert "internal error" not in result.output


def test_unreadable_config_file_is_an_error_with_the_reason(tmp_path, monkeypatch):
    config = write_tree(tmp_path)
    (config / "teams" / "beta.yaml").mkdir()  # a folder where a file should be: unreadable as a file
    monkeypatch.chdir(tmp_path)
    result = run("validate", "--no-lint")
    assert result.exit_code == 1
    assert "beta.yaml" in result.output and "internal error" not in result.output


def test_sandbox_without_the_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto", None)  # `import moto` now raises ImportError
    for args in (["sandbox", "serve"], ["sandbox", "demo"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "pip install 'dmsctl[sandbox]'" in result.output and "Traceback" not in result.output


# -- colour -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("no_color_flag, env, tty, expected", [
    (False, {}, True, True),
    (False, {}, False, False),
    (True, {}, True, False),
    (False, {"NO_COLOR": "1"}, True, False),
    (False, {"NO_COLOR": ""}, True, True),  # no-color.org: only a non-empty value counts
    (False, {"FORCE_COLOR": "1"}, False, True),
    (False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
])
def test_color_follows_flag_no_color_force_color_and_tty(monkeypatch, no_color_flag, env, tty, expected):
    for key in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    assert use_color(no_color_flag) is expected


# -- schema -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["team", "base", "acknowledgements", "plan"])
def test_schema_prints_the_shipped_schema(kind):
    result = run("schema", kind)
    assert result.exit_code == 0
    assert result.output == (schemas_dir() / f"{kind}.schema.json").read_text()
    assert json.loads(result.output)["$schema"].startswith("https://json-schema.org/draft/2020-12")
