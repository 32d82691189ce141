"""configs/acknowledgements.yaml: a reviewer acknowledges one plan, by its checksum, from a pull request."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer import plan as P
from dmsctl.deployer.acknowledgements import plan_acknowledged, stale_reason
from dmsctl.deployer.apply import Applier
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.cli import cli
from dmsctl.deployer.progress import NullSink, Progress
from tests.helpers import EXAMPLES
from tests.planner.conftest import World
from tests.planner.test_scenarios import move_users_reload_bumped


def _plan(config_dir: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), "plan", "--no-lint", "--format", "json",
                                      *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else result.output


def _acknowledge(config_dir: Path, *entries: dict) -> Path:
    import yaml

    path = config_dir / "acknowledgements.yaml"
    path.write_text("# reviewed by the platform team\n" + yaml.safe_dump({"acknowledgements": list(entries)},
                                                                          sort_keys=False))
    return path


def _entry(plan: str, allow=("replace",), env="staging") -> dict:
    return {"env": env, "plan": plan, "allow": list(allow), "reason": "growth moves users-reload to its own instance",
            "pull_request": 42}


def test_an_entry_naming_the_plan_acknowledges_it(world: World) -> None:
    world.deploy()
    cfg = world.tree(move_users_reload_bumped)
    mark = world.sandbox.calls.mark()
    code, reviewed = _plan(cfg)
    assert code == 1 and not reviewed["go"]
    assert any(c["code"] == "P107" and c["severity"] == "error" for c in reviewed["checks"])
    assert reviewed["base_checksum"] == reviewed["checksum"]  # no entries, no flags: the plan as its comment shows it
    _acknowledge(cfg, _entry(reviewed["base_checksum"][:12]))
    code, acked = _plan(cfg)
    assert code == 2, acked
    p107 = next(c for c in acked["checks"] if c["code"] == "P107")
    assert p107["severity"] == "warning" and p107["acknowledged_by"] == "--allow-replace"
    [ack] = acked["acknowledgements"]
    assert ack["flag"] == "--allow-replace" and ack["plan"] == reviewed["base_checksum"]
    assert acked["base_checksum"] == reviewed["base_checksum"]
    assert ack["source"].endswith("acknowledgements.yaml:3") and ack["reason"] == _entry("")["reason"]
    assert acked["checksum"] != reviewed["checksum"]  # the acknowledged plan is another plan, recording who allowed it
    assert [c for c in world.sandbox.calls.since(mark) if c.mutating] == []


def test_an_entry_naming_another_plan_is_ignored_and_says_so(world: World) -> None:
    world.deploy()
    cfg = world.tree(move_users_reload_bumped)
    _acknowledge(cfg, _entry("0123456789ab"))
    code, doc = _plan(cfg)
    assert code == 1 and not doc["go"]
    ignored = next(c for c in doc["checks"] if c["code"] == "P125")
    assert ignored["severity"] == "warning"
    assert "acknowledges plan 0123456789ab (--allow-replace)" in ignored["message"]
    assert f"this plan is {doc['base_checksum'][:12]}: ignored" in ignored["message"]
    assert doc["acknowledgements"] == []


def test_an_entry_for_another_environment_does_not_apply(world: World) -> None:
    world.deploy()
    cfg = world.tree(move_users_reload_bumped)
    code, reviewed = _plan(cfg)
    _acknowledge(cfg, _entry(reviewed["checksum"], env="prod"))
    code, doc = _plan(cfg)
    assert code == 1 and doc["base_checksum"] == reviewed["base_checksum"] and doc["acknowledgements"] == []


def test_command_line_flags_are_recorded_too(world: World) -> None:
    world.deploy()
    cfg = world.tree(move_users_reload_bumped)
    code, doc = _plan(cfg, "--allow-replace")
    assert code == 2
    assert doc["acknowledgements"] == [{"flag": "--allow-replace", "source": "command line", "plan": None,
                                        "reason": None}]


def test_apply_honours_the_entry_under_its_lock(world: World) -> None:
    """Apply plans again (under the lock) and honours the same entry: the deploy workflow after the merge."""
    world.deploy()
    cfg = world.tree(move_users_reload_bumped)
    reviewed, _ = world.plan(cfg)
    _acknowledge(cfg, _entry(reviewed.plan.checksum))  # make_plan's checksum: the plan without acknowledgements
    gw = world.harness.gateway(read_only=False)
    applier = Applier(gw, compile_tree(cfg, "staging"), Progress(sink=NullSink()))
    planned = applier.plan()
    assert planned.plan.go and [a.flag for a in planned.plan.acknowledgements] == ["--allow-replace"]


def test_validate_points_at_a_broken_entry(tmp_path: Path) -> None:
    cfg = tmp_path / "configs"
    shutil.copytree(EXAMPLES, cfg)
    _acknowledge(cfg, _entry("abc", allow=("everything",)), _entry("0123456789ab", env="qa"))
    result = CliRunner().invoke(cli, ["--config-dir", str(cfg), "validate", "--no-lint"])
    assert result.exit_code == 1, result.output
    out = result.output
    lines = out.splitlines()
    assert any("acknowledgements.yaml:4:" in x and "plan checksum the plan comment shows" in x for x in lines)
    assert any("acknowledgements.yaml:6:" in x and '"everything"' in x and '"replace"' in x for x in lines)
    assert any("acknowledgements.yaml:9:" in x and "E240" in x and "environment 'qa'" in x for x in lines)
    assert "Traceback" not in out


def _plan_with(*acks: P.Acknowledgement) -> P.Plan:
    return P.Plan(env="staging", account_id="123456789012", region="eu-west-1", stacks=(), steps=(), checks=(),
                  acknowledgements=acks)


def test_a_missing_acknowledgement_is_not_called_a_stale_plan() -> None:
    reviewed = _plan_with(P.Acknowledgement("--allow-replace", "command line"))
    fresh = _plan_with()
    reason = stale_reason(reviewed, fresh)
    assert reason.startswith("this plan was made with --allow-replace (command line), this apply has not")
    assert "stale" not in reason
    assert "plan is stale" in stale_reason(_plan_with(), dataclasses.replace(_plan_with(), env="prod"))


@pytest.mark.parametrize("flags", [Flags(), Flags(allow_drift=True)])
def test_without_entries_the_plan_is_make_plans(world: World, flags: Flags) -> None:
    cfg = world.deploy()
    gw = world.harness.gateway(read_only=True)
    planned = plan_acknowledged(compile_tree(cfg, "staging"), gw, flags)
    assert [a.source for a in planned.plan.acknowledgements] == ["command line"] * len(flags.names())
