"""The differ and the step builder on hand-built live state (pure; no AWS)."""

from __future__ import annotations

import copy

import yaml

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import diff
from dmsctl.deployer.planner import intermediate_stacks
from dmsctl.deployer.steps import StackTemplates, build_steps
from tests.deployer.livestate import deployed, with_task
from tests.helpers import EXAMPLES, write_tree


def example_docs() -> dict:
    return {p.stem: yaml.safe_load(p.read_text()) for p in (EXAMPLES / "teams").glob("*.yaml")}


def compile_docs(tmp_path, teams: dict):
    base = yaml.safe_load((EXAMPLES / "base.yaml").read_text())
    result = compile_tree(write_tree(tmp_path, base=base, teams=teams), "staging")
    assert result.ok, result.diagnostics
    return result


def plan_steps(result, state):
    changes = diff(result.tree, state)
    inter = intermediate_stacks(result.config, changes)
    templates = {s.name: StackTemplates(s.template_sha256, inter[s.name].template_sha256 if s.name in inter else None)
                 for s in result.tree.stacks}
    tasks = {t.identifier: t for t in result.tree.tasks()}
    steps = build_steps(changes, state, templates, {i: t.paused for i, t in tasks.items()},
                        {i: t.migration_type for i, t in tasks.items()}, {})
    return changes, steps


def task_change(changes, ident) -> P.TaskChange:
    return next(t for c in changes for t in c.tasks if t.identifier == ident)


def test_no_changes_when_live_matches(tmp_path):
    result = compile_docs(tmp_path, example_docs())
    changes, steps = plan_steps(result, deployed(result.tree))
    assert steps == ()
    assert all(c.action == P.NONE and not any(t.changed for t in c.tasks) for c in changes)


def test_adding_a_table_is_one_step_that_stops_only_that_task(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["growth"]["tasks"]["users-cdc"]["tables"].append({"schema": "users", "table": "devices",
                                                            "version": "v202111010000"})
    after = compile_docs(tmp_path / "b", docs2)
    changes, steps = plan_steps(after, deployed(before.tree))
    tc = task_change(changes, "dmsctl-growth-users-cdc")
    assert tc.action == P.UPDATE
    assert [(t.kind, t.name, t.new_version) for t in tc.tables] == [("add", "users.devices", "v202111010000")]
    assert len(steps) == 1
    (stack_step,) = steps[0].stacks
    assert stack_step.stack == "dmsctl-team-growth"
    assert stack_step.stop == ("dmsctl-growth-users-cdc",)
    assert stack_step.start == (P.TaskStart("dmsctl-growth-users-cdc", P.RESUME_PROCESSING),)


def test_version_bump_is_a_two_step_reload(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["food"]["tasks"]["foodsearch"]["tables"][0]["version"] = "v202111230900"
    after = compile_docs(tmp_path / "b", docs2)
    changes, steps = plan_steps(after, deployed(before.tree))
    tc = task_change(changes, "dmsctl-food-foodsearch")
    assert [(t.kind, t.old_version, t.new_version) for t in tc.tables] == [("reload", "v202008040000",
                                                                             "v202111230900")]
    assert [s.number for s in steps] == [1, 2]
    s1, s2 = steps[0].stacks[0], steps[1].stacks[0]
    assert s1.template_sha256 != s2.template_sha256  # step 1 deploys the table-less intermediate
    assert s1.wait_dropped == ("dmsctl-food-foodsearch/foodsearch.foods",)
    assert s1.stop == s2.stop == ("dmsctl-food-foodsearch",)


def test_parallel_version_in_a_second_task_is_one_step(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["growth"]["tasks"]["users-reload"]["tables"].append(
        {"schema": "users", "table": "sessions", "version": "v202111230900"})
    after = compile_docs(tmp_path / "b", docs2)
    changes, steps = plan_steps(after, deployed(before.tree))
    assert len(steps) == 1
    assert steps[0].stacks[0].stop == ("dmsctl-growth-users-reload",)  # users-cdc keeps running


def test_pausing_a_table_and_a_task(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["payments"]["tasks"]["billing-cdc"]["tables"][0]["paused"] = True
    docs2["growth"]["tasks"]["users-reload"]["paused"] = True
    after = compile_docs(tmp_path / "b", docs2)
    changes, steps = plan_steps(after, deployed(before.tree))
    billing = task_change(changes, "dmsctl-payments-billing-cdc")
    assert [(t.kind, t.name) for t in billing.tables] == [("pause", "billing.invoices")]
    reload_task = task_change(changes, "dmsctl-growth-users-reload")
    assert reload_task.run_change == P.PAUSE_TASK
    by_stack = {s.stack: s for s in steps[0].stacks}
    assert by_stack["dmsctl-team-growth"].stop == ("dmsctl-growth-users-reload",)
    assert by_stack["dmsctl-team-growth"].start == ()  # paused: stays stopped


def test_unpausing_a_table_at_a_new_version_is_a_reload_from_the_paused_version(tmp_path):
    """The diff alone says reload (old -> new: the deployed template marks the paused version); the
    planner makes it a resume when DMS has dropped the table (tests/e2e/test_apply_crash.py)."""
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["food"]["tasks"]["foodsearch"]["tables"][3].pop("paused")
    docs2["food"]["tasks"]["foodsearch"]["tables"][3]["version"] = "v202111230900"
    after = compile_docs(tmp_path / "b", docs2)
    changes, _ = plan_steps(after, deployed(before.tree))
    tc = task_change(changes, "dmsctl-food-foodsearch")
    assert [(t.kind, t.name, t.new_version) for t in tc.tables] == [
        ("reload", "foodsearch.legacy_portions", "v202111230900")]
    assert tc.tables[0].old_version not in (None, "v202111230900")


def test_moving_a_task_to_another_instance_is_a_replacement(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    docs2["growth"]["tasks"]["users-reload"]["instance"] = "growth-spare"
    after = compile_docs(tmp_path / "b", docs2)
    changes, _ = plan_steps(after, deployed(before.tree))
    tc = task_change(changes, "dmsctl-growth-users-reload")
    assert tc.action == P.REPLACE and tc.restart_reloads_all
    assert any("ReplicationInstanceArn" in r for r in tc.reasons)


def test_untouched_tasks_and_other_teams_are_never_stopped(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = copy.deepcopy(docs)
    docs2["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 90
    after = compile_docs(tmp_path / "b", docs2)
    _, steps = plan_steps(after, deployed(before.tree))
    stopped = {i for s in steps for st in s.stacks for i in st.stop}
    assert stopped == {"dmsctl-food-foodsearch"}


def test_a_stopped_task_that_should_run_is_resumed(tmp_path):
    result = compile_docs(tmp_path, example_docs())
    state = with_task(deployed(result.tree), "dmsctl-growth-users-cdc", status="stopped")
    changes, steps = plan_steps(result, state)
    assert task_change(changes, "dmsctl-growth-users-cdc").run_change == P.RESUME_TASK
    assert steps[0].stacks[0].start == (P.TaskStart("dmsctl-growth-users-cdc", P.RESUME_PROCESSING),)
    assert steps[0].stacks[0].action == P.NONE  # nothing to deploy, only a task to resume


def test_removed_team_deletes_its_stack(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs2 = {k: v for k, v in docs.items() if k != "payments"}
    after = compile_docs(tmp_path / "b", docs2)
    changes, steps = plan_steps(after, deployed(before.tree))
    gone = next(c for c in changes if c.stack == "dmsctl-team-payments")
    assert gone.action == P.DELETE and all(t.action == P.DELETE for t in gone.tasks)
    step = next(s for s in steps[0].stacks if s.stack == "dmsctl-team-payments")
    assert step.action == P.DELETE and step.stop == ("dmsctl-payments-billing-cdc",)
