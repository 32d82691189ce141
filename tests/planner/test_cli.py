"""`dmsctl plan` through click against the in-process sandbox: exit codes, formats, files, colour."""

from __future__ import annotations

import json
import re
import types

import pytest
from click.testing import CliRunner

from dmsctl.deployer.cli import cli, context
from dmsctl.deployer.plan import plan_from_json
from tests.planner.conftest import World, fast_retries
from tests.planner.test_scenarios import add_devices, move_users_reload

ANSI = re.compile(r"\x1b\[")


@pytest.fixture
def run(world: World):
    """Invoke `dmsctl --config-dir <dir> plan --no-lint ...` (credentials: the harness set AWS_* = testing)."""

    def invoke(config_dir, *args: str, env: dict | None = None, terminal: bool = False):
        return CliRunner().invoke(cli, ["--config-dir", str(config_dir), "plan", "--no-lint", *args], env=env,
                                  color=terminal)  # color=True: click keeps ANSI as it does on a terminal

    return invoke


@pytest.fixture
def tty(monkeypatch):
    """Make stdout look like a terminal to `use_color`, so colour is on unless switched off."""

    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(context, "sys", types.SimpleNamespace(stdout=Terminal()))


def test_exit_codes_no_changes_changes_and_no_go(world: World, run) -> None:
    cfg = world.deploy()
    mark = world.sandbox.calls.mark()
    unchanged = run(cfg)
    assert unchanged.exit_code == 0, unchanged.output
    assert "No changes. DMS matches the configuration." in unchanged.stdout
    changed = run(world.tree(add_devices))
    assert changed.exit_code == 2, changed.output
    assert "+ users.devices" in changed.stdout and "Verdict: GO" in changed.stdout
    blocked = run(world.tree(move_users_reload))
    assert blocked.exit_code == 1, blocked.output
    assert "Verdict: NO-GO (2 blocking checks)" in blocked.stdout
    assert "P107" in blocked.stdout and "Traceback" not in blocked.output
    acknowledged = run(world.tree(move_users_reload), "--allow-replace")
    assert acknowledged.exit_code == 1 and "NO-GO (1 blocking check)" in acknowledged.stdout  # P105 remains
    assert [c for c in world.sandbox.calls.since(mark) if c.mutating] == []


def test_json_format_parses_and_carries_its_checksum(world: World, run) -> None:
    world.deploy()
    result = run(world.tree(add_devices), "--format", "json")
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", doc["checksum"]) and doc["go"] is True
    assert plan_from_json(result.stdout).checksum == doc["checksum"]
    assert doc["summary"]["tables_to_add"] == 1


def test_out_writes_the_plan_file_and_markdown_out_the_comment(world: World, run, tmp_path) -> None:
    world.deploy()
    out, md = tmp_path / "plan.json", tmp_path / "plan.md"
    result = run(world.tree(add_devices), "--out", str(out), "--markdown-out", str(md))
    assert result.exit_code == 2, result.output
    plan = plan_from_json(out.read_text())
    assert plan.summary.tables_to_add == 1
    assert f"Plan: {plan.summary.steps} step" in result.stdout  # the terminal still got the text rendering
    assert md.read_text().startswith("<!-- dmsctl-plan:staging -->\n")
    markdown = run(world.tree(add_devices), "--format", "markdown")
    assert markdown.stdout == md.read_text()


def test_colour_on_a_terminal_unless_no_color(world: World, run, tty) -> None:
    cfg = world.tree(add_devices)
    world.deploy()
    coloured = run(cfg, terminal=True)
    assert coloured.exit_code == 2 and ANSI.search(coloured.stdout)  # the switches below turn it off
    flag = run(cfg, "--no-color", terminal=True)
    env = run(cfg, env={"NO_COLOR": "1"}, terminal=True)
    for result in (flag, env):
        assert result.exit_code == 2, result.output
        assert not ANSI.search(result.output)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.stdout) == flag.stdout == env.stdout


def test_config_errors_exit_1_without_a_traceback(world: World, run) -> None:
    def broken(teams):
        teams["growth"]["tasks"]["users-cdc"]["instance"] = "no-such-instance"

    cfg = world.tree(broken)
    mark = world.sandbox.calls.mark()
    result = run(cfg)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert "Traceback" not in result.output
    assert "no-such-instance" in result.stderr
    assert "error: the configuration has errors: nothing was planned" in result.stderr
    assert result.stdout == ""
    assert world.sandbox.calls.since(mark) == []  # nothing planned, nothing asked

    (cfg / "teams" / "growth.yaml").write_text("team: growth\ntasks: [unclosed\n")
    result = run(cfg)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "growth.yaml" in result.stderr


def test_aws_errors_exit_1_without_a_traceback(world: World, run, monkeypatch) -> None:
    world.deploy()
    world.sandbox.faults.throttle("dms", "DescribeReplicationTasks", 50)
    fast_retries(monkeypatch)
    result = run(world.tree(), "--max-attempts", "2")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: AWS kept throttling dms:DescribeReplicationTasks")
