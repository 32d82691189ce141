"""Every plan scenario applied end to end on the sandbox, from the example configs deployed and running.

Besides its own expectations, each test checks (`run_scenario` -> `assert_safe_and_converged`): no
task that should run is left stopped, no full load was interrupted (no table of any task
restarted), nothing in S3 was overwritten, StopReplicationTask was called for exactly the tasks
the plan lists (untouched tasks and other teams' tasks keep running), no task that should run
keeps apply's "stopped-by-run" tag, the lock is released, and a fresh plan says "No changes".
"""

from __future__ import annotations

import json

import pytest

from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags
from tests.e2e.apply_helpers import (
    SETTLE,
    add_growth_table,
    bump_foods,
    deploy_examples,
    plan_stops,
    run_scenario,
    sandbox_keys,
    status,
    table_stats,
    tasks,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

LOAD = "LOAD00000001.parquet"


def _stack_step(plan: P.Plan, number: int, stack: str) -> P.StackStep:
    return {s.stack: s for s in plan.steps[number - 1].stacks}[stack]


def test_add_a_table(harness, sandbox, tmp_path):
    plan, *_ = run_scenario(harness, sandbox, tmp_path, add_growth_table)
    assert len(plan.steps) == 1 and plan_stops(plan) == {"dmsctl-growth-users-cdc"}
    assert _stack_step(plan, 1, "dmsctl-team-growth").start == (
        P.TaskStart("dmsctl-growth-users-cdc", P.RESUME_PROCESSING),)
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, "replication/growth/usersdb/users/devices/v202111010000/")
    tables = sandbox.tables("dmsctl-growth-users-cdc")
    assert tables["users.devices"]["state"] == "Table completed"
    # the tables already there were not loaded again
    assert all(sum(o.endswith(LOAD) for o in info["outputs"]) == 1 for info in tables.values())
    assert not any(r["FullLoadReloaded"] for r in table_stats(sandbox, "dmsctl-growth-users-cdc").values())
    assert sandbox.overwrites == []


def test_remove_a_table(harness, sandbox, tmp_path):
    prefix = "replication/growth/usersdb/users/email_verifications/v202103010900/"
    kept: list[str] = []

    def remove(teams):
        kept.extend(sandbox_keys(sandbox, prefix))
        tables = teams["growth"]["tasks"]["users-cdc"]["tables"]
        tables[:] = [t for t in tables if t["table"] != "email_verifications"]

    plan, *_ = run_scenario(harness, sandbox, tmp_path, remove)
    assert len(plan.steps) == 1 and plan_stops(plan) == {"dmsctl-growth-users-cdc"}
    assert LOAD in kept
    sandbox.advance(SETTLE)
    assert "users.email_verifications" not in sandbox.tables("dmsctl-growth-users-cdc")
    assert sandbox_keys(sandbox, prefix) == kept  # the data stays; nothing new is written there
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"


def test_version_bump_reloads_into_the_new_prefix_in_two_steps(harness, sandbox, tmp_path):
    old = "replication/food/fooddb/foodsearch/foods/v202008040000/"
    new = "replication/food/fooddb/foodsearch/foods/v202111230900/"
    before: list[str] = []

    def bump(teams):
        before.extend(sandbox_keys(sandbox, old))
        bump_foods(teams)

    plan, _, mark, _, _ = run_scenario(harness, sandbox, tmp_path, bump)
    assert [s.number for s in plan.steps] == [1, 2]
    assert plan_stops(plan) == {"dmsctl-food-foodsearch"}
    step1 = _stack_step(plan, 1, "dmsctl-team-food")
    assert step1.wait_dropped == ("dmsctl-food-foodsearch/foodsearch.foods",)
    deploys = [c.params["StackName"] for c in sandbox.calls.since(mark) if c.operation == "ExecuteChangeSet"]
    assert deploys == ["dmsctl-team-food", "dmsctl-team-food"]
    assert LOAD in before and sandbox_keys(sandbox, new) in ([], [LOAD])
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, new)
    old_after = sandbox_keys(sandbox, old)
    assert set(before) <= set(old_after) and old_after.count(LOAD) == 1  # nothing replaced or reloaded there
    tables = sandbox.tables("dmsctl-food-foodsearch")
    foods = tables["foodsearch.foods"]["outputs"]
    assert foods[0] == new + LOAD and all(o.startswith(new) for o in foods)  # it writes only there
    for other in ("foodsearch.barcodes", "foodsearch.nutrients"):
        assert tables[other]["restarts"] == 0
        assert [o for o in tables[other]["outputs"] if o.endswith(LOAD)] == [tables[other]["outputs"][0]]
        assert not table_stats(sandbox, "dmsctl-food-foodsearch")[other]["FullLoadReloaded"]
    assert sandbox.overwrites == []


def test_parallel_version_in_a_second_task_loads_while_the_old_one_streams(harness, sandbox, tmp_path):
    old = "replication/growth/usersdb/users/sessions/v202008040000/"
    new = "replication/growth/usersdb/users/sessions/v202111230900/"

    def duplicate(teams):
        teams["growth"]["tasks"]["users-reload"]["tables"].append(
            {"schema": "users", "table": "sessions", "version": "v202111230900"})

    sandbox.set_table_size("dmsctl-growth-users-reload", "users", "sessions", 100_000)  # a 2000 s load
    plan, *_ = run_scenario(harness, sandbox, tmp_path, duplicate)
    assert len(plan.steps) == 1 and plan_stops(plan) == {"dmsctl-growth-users-reload"}
    # the new version is loading while the old one keeps capturing changes in users-cdc
    loading = sandbox.tables("dmsctl-growth-users-reload")["users.sessions"]
    assert loading["state"] in ("Before load", "Full load")
    cdc_before = table_stats(sandbox, "dmsctl-growth-users-cdc")["users.sessions"]
    old_files = sandbox_keys(sandbox, old)
    sandbox.advance(900)
    cdc_after = table_stats(sandbox, "dmsctl-growth-users-cdc")["users.sessions"]
    assert cdc_after["TableState"] == "Table completed" and cdc_after["Inserts"] > cdc_before["Inserts"]
    assert len(sandbox_keys(sandbox, old)) > len(old_files)
    assert sandbox.tables("dmsctl-growth-users-reload")["users.sessions"]["state"] == "Full load"
    assert sandbox_keys(sandbox, new) == []
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, new)
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"
    assert status(sandbox, "dmsctl-growth-users-reload") == "running"
    assert sandbox.table_restarts("dmsctl-growth-users-reload", "users", "sessions") == 0
    assert sandbox.overwrites == []


def test_pause_a_table(harness, sandbox, tmp_path):
    def pause(teams):
        teams["payments"]["tasks"]["billing-cdc"]["tables"][0]["paused"] = True

    plan, *_ = run_scenario(harness, sandbox, tmp_path, pause)
    assert plan_stops(plan) == {"dmsctl-payments-billing-cdc"}
    sandbox.advance(SETTLE)
    tables = sandbox.tables("dmsctl-payments-billing-cdc")
    assert set(tables) == {"billing.invoice_lines", "billing.subscriptions"}  # invoices dropped


def test_resume_a_paused_table_with_a_version_bump(harness, sandbox, tmp_path):
    new = "replication/food/fooddb/foodsearch/legacy_portions/v202111230900/"

    def resume(teams):
        table = teams["food"]["tasks"]["foodsearch"]["tables"][3]
        table.pop("paused")
        table["version"] = "v202111230900"

    plan, *_ = run_scenario(harness, sandbox, tmp_path, resume)
    changes = [tc for c in plan.stacks for t in c.tasks for tc in t.tables]
    # paused at v202008040000, back at a new version: a reload in two steps (whether DMS still holds the
    # table's old progress is not documented; two steps are right either way), with P119 saying so
    assert [(tc.kind, tc.name, tc.old_version) for tc in changes] == [
        (P.RELOAD, "foodsearch.legacy_portions", "v202008040000")]
    assert len(plan.steps) == 2 and "P119" in [c.code for c in plan.checks]
    assert plan_stops(plan) == {"dmsctl-food-foodsearch"}
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, new)
    resumed = sandbox.tables("dmsctl-food-foodsearch")["foodsearch.legacy_portions"]
    assert resumed["state"] == "Table completed"


def test_pause_a_task(harness, sandbox, tmp_path):
    def pause(teams):
        teams["growth"]["tasks"]["users-reload"]["paused"] = True

    plan, *_ = run_scenario(harness, sandbox, tmp_path, pause)
    assert plan_stops(plan) == {"dmsctl-growth-users-reload"}
    assert all(s.start == () for s in plan.steps[0].stacks)
    assert status(sandbox, "dmsctl-growth-users-reload") == "stopped"
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"


def test_resume_a_paused_task(harness, sandbox, tmp_path):
    def resume(teams):
        teams["payments"]["tasks"]["ledger-cdc"].pop("paused")

    plan, *_ = run_scenario(harness, sandbox, tmp_path, resume)
    assert plan_stops(plan) == set()
    starts = [e for s in plan.steps[0].stacks for e in s.start]
    assert starts == [P.TaskStart("dmsctl-payments-ledger-cdc", P.START_REPLICATION)]  # it never ran
    assert status(sandbox, "dmsctl-payments-ledger-cdc") == "running"


def test_new_team(harness, sandbox, tmp_path):
    def add_team(teams):
        teams["search"] = {
            "team": "search", "owners": ["@acme/search-eng"],
            "sources": {"searchdb": {"engine": "postgres", "server": "search.staging.internal.acme.io",
                                     "database": "search", "secret_id": "dms/search/searchdb"}},
            "instances": {"search-main": {"class": "dms.t3.medium", "storage_gb": 50}},
            "tasks": {"documents-cdc": {"source": "searchdb", "instance": "search-main", "target": "s3-10min",
                                        "migration_type": "full-load-and-cdc",
                                        "tables": [{"schema": "public", "table": "documents",
                                                    "version": "v202401010000"}]}},
        }

    plan, _, mark, _, _ = run_scenario(harness, sandbox, tmp_path, add_team)
    assert plan_stops(plan) == set()
    assert [(s.stack, s.action) for s in plan.steps[0].stacks] == [("dmsctl-team-search", P.CREATE)]
    executed = [c.params["StackName"] for c in sandbox.calls.since(mark) if c.operation == "ExecuteChangeSet"]
    assert executed == ["dmsctl-team-search"]
    assert status(sandbox, "dmsctl-search-documents-cdc") == "running"
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, "replication/search/searchdb/public/documents/v202401010000/")


def test_removed_team_is_deleted_when_acknowledged(harness, sandbox, tmp_path):
    kept: list[str] = []

    def remove_team(teams):
        kept.extend(sandbox_keys(sandbox, "replication/payments/"))
        del teams["payments"]

    plan, *_ = run_scenario(harness, sandbox, tmp_path, remove_team, flags=Flags(allow_delete=True))
    step = _stack_step(plan, 1, "dmsctl-team-payments")
    assert step.action == P.DELETE and step.stop == ("dmsctl-payments-billing-cdc",) and step.start == ()
    assert not any(i.startswith("dmsctl-payments-") for i in tasks(sandbox))
    stacks = {s["StackName"] for s in sandbox.client("cloudformation").describe_stacks()["Stacks"]}
    assert "dmsctl-team-payments" not in stacks
    assert kept and sandbox_keys(sandbox, "replication/payments/") == kept  # data already in S3 stays


def test_settings_change_stops_only_that_task(harness, sandbox, tmp_path):
    plan, *_ = run_scenario(harness, sandbox, tmp_path, tune_foodsearch)
    assert len(plan.steps) == 1 and plan_stops(plan) == {"dmsctl-food-foodsearch"}
    row = sandbox.client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-id", "Values": ["dmsctl-food-foodsearch"]}],
    )["ReplicationTasks"][0]
    assert json.loads(row["ReplicationTaskSettings"])["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] == 90
    assert all(info["restarts"] == 0 and sum(o.endswith(LOAD) for o in info["outputs"]) == 1
               for info in sandbox.tables("dmsctl-food-foodsearch").values())  # nothing loaded again


def test_shared_target_change_stops_the_tasks_that_write_through_it(harness, sandbox, tmp_path):
    def slower(base):
        base["targets"]["s3-1min"]["flush_interval_seconds"] = 120

    plan, *_ = run_scenario(harness, sandbox, tmp_path, None, base=slower)
    assert [s.stack for s in plan.steps[0].stacks][0] == "dmsctl-base"
    # the base stack's S3 endpoint changes: the tasks using it (and only those) are stopped around it
    assert plan_stops(plan) == {"dmsctl-food-foodsearch", "dmsctl-payments-billing-cdc"}


def test_add_a_table_and_bump_another_in_the_same_task(harness, sandbox, tmp_path):
    new = "replication/food/fooddb/foodsearch/foods/v202111230900/"

    def add_and_bump(teams):
        tables = teams["food"]["tasks"]["foodsearch"]["tables"]
        tables[0]["version"] = "v202111230900"
        tables.append({"schema": "foodsearch", "table": "brands", "version": "v202111230900"})

    plan, *_ = run_scenario(harness, sandbox, tmp_path, add_and_bump)
    assert [s.number for s in plan.steps] == [1, 2]
    sandbox.advance(SETTLE)
    assert LOAD in sandbox_keys(sandbox, new)
    assert LOAD in sandbox_keys(sandbox, "replication/food/fooddb/foodsearch/brands/v202111230900/")


def test_remove_a_task_when_acknowledged(harness, sandbox, tmp_path):
    def remove_task(teams):
        del teams["growth"]["tasks"]["users-reload"]

    plan, *_ = run_scenario(harness, sandbox, tmp_path, remove_task, flags=Flags(allow_delete=True))
    step = _stack_step(plan, 1, "dmsctl-team-growth")
    assert step.action == P.UPDATE and step.stop == ("dmsctl-growth-users-reload",) and step.start == ()
    assert "dmsctl-growth-users-reload" not in tasks(sandbox)
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"


def test_a_task_stopped_by_hand_is_resumed_without_a_deploy(harness, sandbox, tmp_path):
    def stop_by_hand(_teams):
        arn = tasks(sandbox)["dmsctl-growth-users-cdc"]["ReplicationTaskArn"]
        sandbox.client("dms").stop_replication_task(ReplicationTaskArn=arn)
        sandbox.advance(30)

    plan, _, mark, _, _ = run_scenario(harness, sandbox, tmp_path, stop_by_hand)
    assert [(s.stack, s.action, s.template_sha256) for s in plan.steps[0].stacks] == [
        ("dmsctl-team-growth", P.NONE, None)]
    assert not [c for c in sandbox.calls.since(mark) if c.service == "cloudformation" and c.mutating]
    starts = [c.params["StartReplicationTaskType"] for c in sandbox.calls.since(mark)
              if c.operation == "StartReplicationTask"]
    assert starts == [P.RESUME_PROCESSING]


def test_shared_target_and_team_change_together(harness, sandbox, tmp_path):
    """The base stack first (its S3 target's tasks stopped around it), then the team stack."""
    def slower(base):
        base["targets"]["s3-1min"]["flush_interval_seconds"] = 120

    plan, _, mark, _, _ = run_scenario(harness, sandbox, tmp_path, tune_foodsearch, base=slower)
    deployed = [c.params["StackName"] for c in sandbox.calls.since(mark) if c.operation == "ExecuteChangeSet"]
    assert deployed == ["dmsctl-base", "dmsctl-team-food"]
    assert plan_stops(plan) == {"dmsctl-food-foodsearch", "dmsctl-payments-billing-cdc"}


def test_a_changed_root_prefix_is_planned_with_a_warning(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)

    def moved_lake(base):
        base["datalake"]["root_prefix"] = "replication-v2"

    planned, _ = harness.plan(tree(tmp_path / "after", base=moved_lake))
    p118 = [c for c in planned.plan.checks if c.code == "P118"]
    assert p118 and all(not c.blocks for c in p118)
    assert "from 'replication' to 'replication-v2'" in p118[0].message
    assert not [c for c in harness.plan(tree(tmp_path / "same"))[0].plan.checks if c.code == "P118"]
