"""Scale: a team with 10,000 tables over several tasks and task stacks compiles, deploys (templates
through S3), plans and applies on the sandbox; one table added later touches one task and one stack.

Each tree is compiled once per module (`compiled`): the harness's plans and applies reuse that result
instead of compiling the same 10,000 tables again for every step. CDC output files are switched off
(no synthetic changes): nothing here reads them, and writing one per table per batch into moto's S3
was most of the sandbox's work."""

from __future__ import annotations

import pytest

from dmsctl.compiler import limits
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.diagnostics import Severity
from tests.helpers import minimal_team, write_tree

TABLES, TASKS = 10_000, 8


def big_team(tables: int = TABLES, tasks: int = TASKS, extra: int = 0) -> dict:
    team = minimal_team("big", tables=0)
    per_task = tables // tasks
    team["tasks"] = {
        f"part{n}": {"source": "db", "instance": "main", "target": "s3-10min", "migration_type": "full-load-and-cdc",
                     "stack": f"part{n}",
                     "tables": [{"schema": f"s{n}", "table": f"t{i}", "version": "v202001010000"}
                                for i in range(per_task + (extra if n == 0 else 0))]}
        for n in range(tasks)}
    return team


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """(config dir -> its one compile result): the big team as deployed first, and with one table more."""
    root = tmp_path_factory.mktemp("scale")
    trees = [write_tree(root / "a", teams={"big": big_team()}),
             write_tree(root / "b", teams={"big": big_team(extra=1)})]
    results = {tree: compile_tree(tree, "staging") for tree in trees}
    for result in results.values():
        assert result.ok, [str(d) for d in result.diagnostics][:3]
    return results


@pytest.fixture
def scale(harness, sandbox, compiled, monkeypatch):
    """The harness, compiling each tree from the module's results; the sandbox without CDC output."""
    monkeypatch.setattr(harness, "compile", lambda config_dir, env="staging": compiled[config_dir])
    sandbox.configure(cdc_rows_per_second=0.0)
    return harness


def test_ten_thousand_tables_in_one_stack_is_refused_with_advice(tmp_path):
    team = big_team(tasks=1)
    team["tasks"]["part0"].pop("stack")
    result = compile_tree(write_tree(tmp_path, teams={"big": team}), "staging")
    errors = [d for d in result.diagnostics if d.severity == Severity.ERROR]
    assert [d.code for d in errors] == ["E303", "E304"]  # over DMS's 2 MB mappings and CloudFormation's 1 MB
    assert "split it" in errors[0].message and "dmsctl-big-part0" in errors[0].message
    assert "`stack: <name>`" in errors[1].message and "dmsctl-big-part0 (10,000 tables)" in errors[1].message


def test_ten_thousand_tables_over_task_stacks(scale, sandbox, compiled):
    harness = scale
    config, grown = compiled
    result = harness.compile(config)
    assert not [d for d in result.diagnostics if d.severity != Severity.INFO]
    stacks = {s.name: s for s in result.tree.stacks}
    assert len(stacks) == 2 + TASKS  # base, team, one per task
    by_stack = {s.stack: s for s in result.stats}
    for n in range(TASKS):
        st = by_stack[f"dmsctl-team-big--part{n}"]
        assert st.needs_s3_upload and st.template_bytes < limits.WARN_RATIO * limits.TEMPLATE_S3_MAX
        assert st.tasks[0].tables == TABLES // TASKS
    assert sum(t.tables for s in result.stats for t in s.tasks) == TABLES

    sandbox.put_s3_object("lake-staging", "README", "lake")
    code, _, progress = harness.apply(config)
    assert code == 0, [e.message for e in progress.events if e.kind == "error"]
    dms = sandbox.client("dms")
    tasks = [t for t in dms.describe_replication_tasks()["ReplicationTasks"] if t["ReplicationTaskIdentifier"]
             .startswith("dmsctl-big-")]
    assert len(tasks) == TASKS and {t["Status"] for t in tasks} == {"running"}
    assert len(sandbox.s3_keys("lake-staging", "_dmsctl/templates/")) == TASKS  # every task stack via S3

    sandbox.advance(6 * 3600)
    again, gw = harness.plan(config)
    assert again.plan.steps == ()

    planned, gw = harness.plan(grown)
    plan = planned.plan
    assert plan.go and plan.summary.tables_to_add == 1
    assert [(s.stack, s.stop) for step in plan.steps for s in step.stacks] == [
        ("dmsctl-team-big--part0", ("dmsctl-big-part0",))]
    # the stopped task's ReplicationTaskStats count no table loading or queued (A75): its 1,250 tables'
    # statistics are not read, nor the seven others'
    assert gw.calls["dms:DescribeTableStatistics"] == 0
    code, _, _ = harness.apply(grown)
    assert code == 0
    sandbox.advance(3600)
    assert harness.plan(grown)[0].plan.steps == ()
