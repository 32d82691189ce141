"""An acknowledged task replacement: removed in step 1, created anew (start-replication) in step 2."""

from __future__ import annotations

import copy

import yaml

from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags
from tests.helpers import EXAMPLES, write_tree


def _tree(tmp_path, mutate=None):
    base = yaml.safe_load((EXAMPLES / "base.yaml").read_text())
    teams = {p.stem: yaml.safe_load(p.read_text()) for p in (EXAMPLES / "teams").glob("*.yaml")}
    if mutate:
        teams = copy.deepcopy(teams)
        mutate(teams)
    return write_tree(tmp_path, base=base, teams=teams)


def _move_reload_task(teams):
    teams["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    teams["growth"]["tasks"]["users-reload"]["instance"] = "growth-spare"


def _move_and_bump(teams):
    _move_reload_task(teams)
    for table in teams["growth"]["tasks"]["users-reload"]["tables"]:
        table["version"] = "v202111230000"


def test_replacement_is_blocked_then_applied_in_two_steps_when_acknowledged(harness, sandbox, tmp_path):
    sandbox.put_s3_object("acme-datalake-staging", "README", "lake")
    before = _tree(tmp_path / "a")
    assert harness.apply(before)[0] == 0
    sandbox.advance(3600)
    after = _tree(tmp_path / "b", _move_reload_task)

    blocked, gw = harness.plan(after)
    assert not blocked.plan.go
    assert sorted(c.code for c in blocked.plan.checks if c.blocks) == ["P105", "P107"]
    assert all(op.split(":")[1].startswith(("Describe", "List", "Get")) for op in gw.calls)

    unbumped, _ = harness.plan(after, flags=Flags(allow_replace=True))
    # acknowledged, but the new task would full-load into prefixes that hold the old task's data
    assert [c.code for c in unbumped.plan.checks if c.blocks] == ["P105"]
    assert "bump the versions of its tables" in unbumped.plan.checks[0].message

    after = _tree(tmp_path / "c", _move_and_bump)
    planned, _ = harness.plan(after, flags=Flags(allow_replace=True))
    plan = planned.plan
    assert plan.go and len(plan.steps) == 2
    step1 = {s.stack: s for s in plan.steps[0].stacks}["dmsctl-team-growth"]
    step2 = {s.stack: s for s in plan.steps[1].stacks}["dmsctl-team-growth"]
    assert step1.stop == ("dmsctl-growth-users-reload",) and step1.start == ()
    assert step2.start == (P.TaskStart("dmsctl-growth-users-reload", P.START_REPLICATION),)

    listed = sandbox.client("dms").describe_replication_tasks()["ReplicationTasks"]
    old_arn = next(t["ReplicationTaskArn"] for t in listed
                   if t["ReplicationTaskIdentifier"] == "dmsctl-growth-users-reload")
    code, _, progress = harness.apply(after, flags=Flags(allow_replace=True))
    assert code == 0, [e.message for e in progress.events]
    listed = sandbox.client("dms").describe_replication_tasks()["ReplicationTasks"]
    tasks = {t["ReplicationTaskIdentifier"]: t for t in listed}
    new = tasks["dmsctl-growth-users-reload"]
    assert new["ReplicationTaskArn"] != old_arn and new["Status"] == "running"
    assert tasks["dmsctl-growth-users-cdc"]["Status"] == "running"
    sandbox.advance(3600)  # the new task's full load writes into the new prefixes
    keys = sandbox.s3_keys("acme-datalake-staging", "replication/growth/usersdb/users/accounts/v202111230000/")
    assert any("LOAD" in k for k in keys)
    assert sandbox.overwrites == []
    assert not harness.plan(after)[0].plan.has_changes

