"""`dmsctl plan` on the sandbox, scenario by scenario.

Every scenario deploys the example configs with the real apply (optionally changed first), lets
the full loads finish, then changes the live state and/or the config, and plans. It asserts the
exit code, the task and table changes, the steps (per stack: action, tasks stopped, tasks started)
and the exact set of blocking check codes. `World.plan` asserts on every plan that it only read.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from dmsctl.compiler.build import HASH_OUTPUT
from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.diff import _tasks_in
from tests.planner.conftest import BUCKET, World, fast_retries

FOODSEARCH = "dmsctl-food-foodsearch"
SNAPSHOT = "dmsctl-food-catalog-snapshot"
USERS_CDC = "dmsctl-growth-users-cdc"
USERS_RELOAD = "dmsctl-growth-users-reload"
BILLING = "dmsctl-payments-billing-cdc"
LEDGER = "dmsctl-payments-ledger-cdc"
FOOD, GROWTH, PAYMENTS, BASE = "dmsctl-team-food", "dmsctl-team-growth", "dmsctl-team-payments", "dmsctl-base"
NEW = "v202111230900"
NEWER = "v202111231000"


def resume(ident: str) -> str:
    return f"resume:{ident}"


def start(ident: str) -> str:
    return f"start:{ident}"


# -- config mutations (on the example team documents) ---------------------------------------------

def tables(teams: dict, team: str, task: str) -> list[dict]:
    return teams[team]["tasks"][task]["tables"]


def table(teams: dict, team: str, task: str, name: str) -> dict:
    return next(t for t in tables(teams, team, task) if t["table"] == name)


def add_devices(teams):
    tables(teams, "growth", "users-cdc").append({"schema": "users", "table": "devices", "version": NEW})


def remove_referral_codes(teams):
    teams["growth"]["tasks"]["users-cdc"]["tables"] = [
        t for t in tables(teams, "growth", "users-cdc") if t["table"] != "referral_codes"]


def bump_foods(teams):
    table(teams, "food", "foodsearch", "foods")["version"] = NEW


def sessions_in_reload_task(teams):
    tables(teams, "growth", "users-reload").append({"schema": "users", "table": "sessions", "version": NEW})


def pause_invoices(teams):
    table(teams, "payments", "billing-cdc", "invoices")["paused"] = True


def unpause_legacy(teams):
    table(teams, "food", "foodsearch", "legacy_portions").pop("paused", None)


def resume_legacy_bumped(teams):
    unpause_legacy(teams)
    table(teams, "food", "foodsearch", "legacy_portions")["version"] = NEW


def pause_users_reload(teams):
    teams["growth"]["tasks"]["users-reload"]["paused"] = True


def resume_ledger(teams):
    teams["payments"]["tasks"]["ledger-cdc"].pop("paused")


def new_team(teams):
    teams["search"] = {
        "team": "search", "owners": ["@acme/search-eng"],
        "sources": {"searchdb": {"engine": "postgres", "server": "search.staging.internal.acme.io",
                                 "database": "search", "secret_id": "dms/search/searchdb"}},
        "instances": {"search-main": {"class": "dms.t3.medium", "storage_gb": 50}},
        "tasks": {"docs-cdc": {"source": "searchdb", "instance": "search-main", "target": "s3-10min",
                               "migration_type": "full-load-and-cdc",
                               "tables": [{"schema": "public", "table": "documents", "version": NEW}]}}}


def remove_payments(teams):
    del teams["payments"]


def settings_change(teams):
    teams["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 90


def move_users_reload(teams):
    teams["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    teams["growth"]["tasks"]["users-reload"]["instance"] = "growth-spare"


def move_users_reload_bumped(teams):
    move_users_reload(teams)
    for t in tables(teams, "growth", "users-reload"):
        t["version"] = NEW


def bump_foods_add_brands(teams):
    bump_foods(teams)
    tables(teams, "food", "foodsearch").append({"schema": "foodsearch", "table": "brands", "version": NEW})


def bump_users_reload_add_sessions(teams):
    bump_users_reload(teams)
    sessions_in_reload_task(teams)


def bump_users_reload(teams):
    table(teams, "growth", "users-reload", "accounts")["version"] = NEW


def barcodes_backwards(teams):
    table(teams, "food", "foodsearch", "barcodes")["version"] = "v202008040000"


def bump_growth(teams):
    for t in tables(teams, "growth", "users-cdc"):
        t["version"] = NEW
    table(teams, "growth", "users-reload", "accounts")["version"] = NEWER


def remove_users_reload(teams):
    del teams["growth"]["tasks"]["users-reload"]


def new_task(teams):
    teams["growth"]["tasks"]["users-devices"] = {
        "source": "usersdb", "instance": "growth-main", "target": "s3-10min", "migration_type": "full-load-and-cdc",
        "tables": [{"schema": "users", "table": "devices", "version": NEW}]}


def add_to_paused_task(teams):
    tables(teams, "payments", "ledger-cdc").append({"schema": "ledger", "table": "transfers", "version": NEW})


def add_to_full_load_task(teams):
    tables(teams, "food", "catalog-snapshot").append({"schema": "public", "table": "authors", "version": NEW})


def slower_1min_target(base):
    base["targets"]["s3-1min"]["flush_interval_seconds"] = 120


def both(*mutations):
    def mutate(teams):
        for m in mutations:
            m(teams)
    return mutate


# -- live-state changes ---------------------------------------------------------------------------

def users_reload_paused(w: World) -> None:
    w.apply(w.tree(pause_users_reload))


def devices_prefix_has_data(w: World) -> None:
    prefix = f"replication/growth/usersdb/users/devices/{NEW}/"
    w.sandbox.put_s3_object(BUCKET, prefix + "LOAD00000001.parquet", b"loaded by someone else")


def legacy_loaded_then_paused(w: World) -> None:
    """History: legacy_portions was replicated (its prefix holds data), then paused (the examples)."""
    w.apply(w.tree())
    w.sandbox.advance(60)


def devices_mid_full_load(w: World) -> None:
    """users.devices is added with a huge source table: its full load is still running at plan time."""
    w.sandbox.set_table_size(USERS_CDC, "users", "devices", 50_000_000)
    w.apply(w.tree(add_devices))
    w.sandbox.advance(600)
    state = w.sandbox.tables(USERS_CDC)["users.devices"]["state"]
    assert state == "Full load", state


def console_adds_a_table(w: World) -> None:
    """Someone adds users.devices to users-cdc in the DMS console: stop, modify TableMappings, resume."""
    dms = w.sandbox.client("dms")
    row = w.task(USERS_CDC)
    dms.stop_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"])
    w.wait_task(USERS_CDC, "stopped")
    mappings = json.loads(row["TableMappings"])
    mappings["rules"].append({"rule-type": "selection", "rule-id": "9001", "rule-name": "console-devices",
                              "object-locator": {"schema-name": "users", "table-name": "devices"},
                              "rule-action": "include"})
    dms.modify_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"], TableMappings=json.dumps(mappings))
    w.wait_task(USERS_CDC, "stopped", "ready")
    dms.start_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"],
                               StartReplicationTaskType="resume-processing")
    w.wait_task(USERS_CDC, "running")
    w.sandbox.advance(600)


def console_changes_settings(w: World) -> None:
    dms = w.sandbox.client("dms")
    row = w.task(FOODSEARCH)
    dms.stop_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"])
    w.wait_task(FOODSEARCH, "stopped")
    dms.modify_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"], ReplicationTaskSettings=json.dumps(
        {"ChangeProcessingTuning": {"BatchApplyTimeoutMax": 300}}))
    w.wait_task(FOODSEARCH, "stopped", "ready")
    dms.start_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"],
                               StartReplicationTaskType="resume-processing")
    w.wait_task(FOODSEARCH, "running")


def growth_stack_deleted(w: World) -> None:
    """An operator stops the growth tasks and deletes the growth stack by hand: tasks and all."""
    dms = w.sandbox.client("dms")
    for ident in (USERS_CDC, USERS_RELOAD):
        dms.stop_replication_task(ReplicationTaskArn=w.task(ident)["ReplicationTaskArn"])
    for ident in (USERS_CDC, USERS_RELOAD):
        w.wait_task(ident, "stopped")
    cfn = w.sandbox.client("cloudformation")
    cfn.delete_stack(StackName=GROWTH)
    assert GROWTH not in {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    assert {t["ReplicationTaskIdentifier"] for t in dms.describe_replication_tasks()["ReplicationTasks"]} \
        .isdisjoint({USERS_CDC, USERS_RELOAD})


def growth_stack_delete_failed(w: World) -> None:
    """Deleting the growth stack while its tasks run: DMS refuses, the stack ends DELETE_FAILED."""
    cfn = w.sandbox.client("cloudformation")
    cfn.delete_stack(StackName=GROWTH)
    status = cfn.describe_stacks(StackName=GROWTH)["Stacks"][0]["StackStatus"]
    assert status == "DELETE_FAILED", status


def base_delete_failed(w: World) -> None:
    """Deleting the base stack fails: the team stacks import its exports. Nothing was deleted."""
    cfn = w.sandbox.client("cloudformation")
    cfn.delete_stack(StackName=BASE)
    status = cfn.describe_stacks(StackName=BASE)["Stacks"][0]["StackStatus"]
    assert status == "DELETE_FAILED", status


def base_update_in_progress(w: World) -> None:
    """Someone else's update of the base stack is still running (CloudFormation latency)."""
    w.sandbox.configure(cfn_latency_seconds=900)
    cfn = w.sandbox.client("cloudformation")
    cfn.update_stack(StackName=BASE, UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
                     Tags=[{"Key": "touched-by", "Value": "someone-else"}])
    status = cfn.describe_stacks(StackName=BASE)["Stacks"][0]["StackStatus"]
    assert status == "UPDATE_IN_PROGRESS", status


def users_cdc_deleted_in_dms(w: World) -> None:
    dms = w.sandbox.client("dms")
    arn = w.task(USERS_CDC)["ReplicationTaskArn"]
    dms.stop_replication_task(ReplicationTaskArn=arn)
    w.wait_task(USERS_CDC, "stopped")
    dms.delete_replication_task(ReplicationTaskArn=arn)
    w.sandbox.advance(30)


def search_change_set_never_executed(w: World) -> None:
    """A first deploy of the search team died between CreateChangeSet and ExecuteChangeSet."""
    stack = next(s for s in w.harness.compile(w.tree(new_team)).tree.stacks if s.name == "dmsctl-team-search")
    cfn = w.sandbox.client("cloudformation")
    cfn.create_change_set(StackName=stack.name, ChangeSetName="dmsctl-interrupted", ChangeSetType="CREATE",
                          TemplateBody=stack.body, Capabilities=["CAPABILITY_NAMED_IAM"])
    w.sandbox.advance(5)
    assert cfn.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"


def search_task_created_by_hand(w: World) -> None:
    """Someone created dmsctl-search-docs-cdc in DMS by hand, on growth's instance and endpoints."""
    row = w.task(USERS_CDC)
    w.sandbox.client("dms").create_replication_task(
        ReplicationTaskIdentifier="dmsctl-search-docs-cdc", SourceEndpointArn=row["SourceEndpointArn"],
        TargetEndpointArn=row["TargetEndpointArn"], ReplicationInstanceArn=row["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc", TableMappings=row["TableMappings"])
    w.sandbox.advance(30)


def users_cdc_failed(w: World) -> None:
    w.sandbox.faults.fail_task(USERS_CDC, "source database unreachable")
    w.wait_task(USERS_CDC, "failed")


def growth_deployed_by_another_version(w: World) -> None:
    """The growth stack as another dmsctl version deployed it: users-cdc's TableMappings hold the same
    rules written differently (so CloudFormation will send them to DMS again)."""
    stack = next(s for s in w.harness.compile(w.tree()).tree.stacks if s.name == GROWTH)
    template = copy.deepcopy(stack.template)
    props = _tasks_in(template)[USERS_CDC][1]
    props["TableMappings"] = json.dumps(json.loads(props["TableMappings"]), indent=1)
    template["Outputs"][HASH_OUTPUT]["Value"] = "0" * 64
    dms, cfn = w.sandbox.client("dms"), w.sandbox.client("cloudformation")
    arn = w.task(USERS_CDC)["ReplicationTaskArn"]
    dms.stop_replication_task(ReplicationTaskArn=arn)
    w.wait_task(USERS_CDC, "stopped")
    cfn.update_stack(StackName=GROWTH, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cfn.describe_stacks(StackName=GROWTH)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    w.wait_task(USERS_CDC, "stopped", "ready")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    w.wait_task(USERS_CDC, "running")


def throttled(w: World) -> None:
    """AWS throttles the describe calls a few times (retried by botocore; see test_calls for more)."""
    fast_retries(w.monkeypatch)
    w.sandbox.faults.throttle("dms", "DescribeReplicationTasks", 2)
    w.sandbox.faults.throttle("cloudformation", "DescribeStacks", 2)
    w.sandbox.faults.throttle("cloudformation", "GetTemplate", 1)
    w.sandbox.faults.throttle("dms", "DescribeTableStatistics", 1)


# -- the table ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    name: str
    exit: int
    mutate: Callable[[dict], None] | None = None  # the config planned (examples, changed)
    live: Callable[[World], None] | None = None  # after the baseline deploy, before planning
    before: Callable[[dict], None] | None = None  # the config of the baseline deploy (examples, changed)
    base: Callable[[dict], None] | None = None  # a change to base.yaml in the config planned
    env: str = "staging"
    flags: Flags = Flags()
    stacks: dict = field(default_factory=dict)  # stack -> action, for every stack the plan shows
    tasks: dict = field(default_factory=dict)  # identifier -> (action, run change, ((kind, table, old, new), ...))
    steps: tuple = ()  # per step: {stack: (action, stop, start)}
    blocking: frozenset = frozenset()
    warnings: frozenset = frozenset()
    says: tuple = ()  # each appears in some check's message

    def __str__(self) -> str:
        return self.name


SCENARIOS = [
    Scenario("no-change", 0),
    Scenario(
        "add-table", 2, add_devices,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},)),
    Scenario(
        "remove-table", 2, remove_referral_codes,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("remove", "users.referral_codes", "v202103010900", None),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},)),
    Scenario(
        "bump-version", 2, bump_foods,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("reload", "foodsearch.foods", "v202008040000", NEW),))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},
               {FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))})),
    # The added table loads in step 2 with the reloaded one: step 2 stops the task again, so nothing may
    # be loading after step 1 (see test_tables_added_next_to_a_reload_wait_for_step_2).
    Scenario(
        "bump-version-and-add-table", 2, bump_foods_add_brands,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("add", "foodsearch.brands", None, NEW),
                                             ("reload", "foodsearch.foods", "v202008040000", NEW)))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},
               {FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))})),
    Scenario(
        "bump-version-and-resume-table", 2, both(bump_foods, resume_legacy_bumped),
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("reload", "foodsearch.foods", "v202008040000", NEW),
                                             ("reload", "foodsearch.legacy_portions", "v202008040000", NEW)))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},
               {FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))}),
        warnings=frozenset({"P119"})),  # paused at its old version: a reload (two steps), said so
    Scenario(
        "new-version-in-second-task", 2, sessions_in_reload_task,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.UPDATE, None, (("add", "users.sessions", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))},)),
    Scenario(
        "pause-table", 2, pause_invoices,
        stacks={PAYMENTS: P.UPDATE},
        tasks={BILLING: (P.UPDATE, None, (("pause", "billing.invoices", "v202009010000", None),))},
        steps=({PAYMENTS: (P.UPDATE, (BILLING,), (resume(BILLING),))},)),
    Scenario(
        "resume-table-bumped", 2, resume_legacy_bumped, live=legacy_loaded_then_paused, before=unpause_legacy,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("reload", "foodsearch.legacy_portions", "v202008040000", NEW),))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},
               {FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))}),
        warnings=frozenset({"P119"})),
    Scenario(
        "resume-table-unbumped", 1, unpause_legacy, live=legacy_loaded_then_paused, before=unpause_legacy,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("resume", "foodsearch.legacy_portions", None, "v202008040000"),))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},),
        blocking=frozenset({"P105"}),
        says=("resuming a paused table is a reload: bump its version",)),
    Scenario(
        "pause-task", 2, pause_users_reload,
        stacks={GROWTH: P.NONE},
        tasks={USERS_RELOAD: (P.NONE, P.PAUSE_TASK, ())},
        steps=({GROWTH: (P.NONE, (USERS_RELOAD,), ())},)),
    Scenario(
        "resume-task", 2, resume_ledger,
        stacks={PAYMENTS: P.NONE},
        tasks={LEDGER: (P.NONE, P.RESUME_TASK, ())},
        steps=({PAYMENTS: (P.NONE, (), (start(LEDGER),))},)),
    Scenario(
        "resume-task-that-ran", 2, live=users_reload_paused,
        stacks={GROWTH: P.NONE},
        tasks={USERS_RELOAD: (P.NONE, P.RESUME_TASK, ())},
        steps=({GROWTH: (P.NONE, (), (resume(USERS_RELOAD),))},),
        warnings=frozenset({"P121"})),  # stopped outside dmsctl: resumed, and the plan says so
    Scenario(
        "change-paused-task", 2, add_to_paused_task,
        stacks={PAYMENTS: P.UPDATE},
        tasks={LEDGER: (P.UPDATE, None, (("add", "ledger.transfers", None, NEW),))},
        steps=({PAYMENTS: (P.UPDATE, (), ())},)),
    Scenario(
        "change-finished-full-load-task", 2, add_to_full_load_task,
        stacks={FOOD: P.UPDATE},
        tasks={SNAPSHOT: (P.UPDATE, None, (("add", "public.authors", None, NEW),))},
        steps=({FOOD: (P.UPDATE, (), ())},)),
    Scenario(
        "new-task", 2, new_task,
        stacks={GROWTH: P.UPDATE},
        tasks={"dmsctl-growth-users-devices": (P.CREATE, None, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (), (start("dmsctl-growth-users-devices"),))},)),
    Scenario(
        "removed-task", 1, remove_users_reload,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.DELETE, None, (("remove", "users.accounts", "v202011191200", None),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), ())},),
        blocking=frozenset({"P108"})),
    Scenario(
        "base-target-change", 2, base=slower_1min_target,
        stacks={BASE: P.UPDATE},
        steps=({BASE: (P.UPDATE, (FOODSEARCH, BILLING), (resume(FOODSEARCH), resume(BILLING)))},)),
    Scenario(
        "wrong-account", 1, env="prod",
        blocking=frozenset({"P114"}),
        says=("refusing to plan against the wrong account",)),
    Scenario(
        "new-team", 2, new_team,
        stacks={"dmsctl-team-search": P.CREATE},
        tasks={"dmsctl-search-docs-cdc": (P.CREATE, None, (("add", "public.documents", None, NEW),))},
        steps=({"dmsctl-team-search": (P.CREATE, (), (start("dmsctl-search-docs-cdc"),))},)),
    Scenario(
        "removed-team", 1, remove_payments,
        stacks={PAYMENTS: P.DELETE},
        tasks={BILLING: (P.DELETE, None, tuple(("remove", f"billing.{t}", "v202009010000", None)
                                               for t in ("invoice_lines", "invoices", "subscriptions"))),
               LEDGER: (P.DELETE, None, (("remove", "ledger.accounts", "v202010150000", None),
                                         ("remove", "ledger.entries", "v202010150000", None)))},
        steps=({PAYMENTS: (P.DELETE, (BILLING,), ())},),
        blocking=frozenset({"P108"}), warnings=frozenset({"P124"}),  # billing-cdc reads a PostgreSQL source
        says=("stack dmsctl-team-payments will be DELETED", "SELECT pg_drop_replication_slot(")),
    Scenario(
        "removed-team-allowed", 2, remove_payments, flags=Flags(allow_delete=True),
        stacks={PAYMENTS: P.DELETE},
        tasks={BILLING: (P.DELETE, None, tuple(("remove", f"billing.{t}", "v202009010000", None)
                                               for t in ("invoice_lines", "invoices", "subscriptions"))),
               LEDGER: (P.DELETE, None, (("remove", "ledger.accounts", "v202010150000", None),
                                         ("remove", "ledger.entries", "v202010150000", None)))},
        steps=({PAYMENTS: (P.DELETE, (BILLING,), ())},),
        warnings=frozenset({"P108", "P124"})),
    Scenario(
        "settings-change", 2, settings_change,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, ())},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},)),
    Scenario(
        "instance-change", 1, move_users_reload_bumped,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.REPLACE, None, (("reload", "users.accounts", "v202011191200", NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), ())},
               {GROWTH: (P.UPDATE, (), (start(USERS_RELOAD),))}),
        blocking=frozenset({"P107"}),
        says=("will be REPLACED", "every one of its 1 table reloads")),
    Scenario(
        "instance-change-allowed", 2, move_users_reload_bumped, flags=Flags(allow_replace=True),
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.REPLACE, None, (("reload", "users.accounts", "v202011191200", NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), ())},
               {GROWTH: (P.UPDATE, (), (start(USERS_RELOAD),))}),
        warnings=frozenset({"P107"})),
    Scenario(
        "instance-change-same-versions", 1, move_users_reload,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.REPLACE, None, ())},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), ())},
               {GROWTH: (P.UPDATE, (), (start(USERS_RELOAD),))}),
        blocking=frozenset({"P105", "P107"}),
        says=("a replaced task full-loads every table again",)),
    Scenario(
        "reload-every-table-of-a-task", 1, bump_users_reload,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.UPDATE, None, (("reload", "users.accounts", "v202011191200", NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))},
               {GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))}),
        blocking=frozenset({"P113"})),
    Scenario(
        "reload-every-table-and-add-one", 1, bump_users_reload_add_sessions,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.UPDATE, None, (("reload", "users.accounts", "v202011191200", NEW),
                                               ("add", "users.sessions", None, NEW)))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))},
               {GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))}),
        blocking=frozenset({"P113"}),
        says=("the tables it adds or resumes come in step 2 too",)),
    Scenario(
        "version-backwards", 1, barcodes_backwards,
        stacks={FOOD: P.UPDATE},
        tasks={FOODSEARCH: (P.UPDATE, None, (("reload", "foodsearch.barcodes", "v202011191200", "v202008040000"),))},
        steps=({FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))},
               {FOOD: (P.UPDATE, (FOODSEARCH,), (resume(FOODSEARCH),))}),
        blocking=frozenset({"P104"}),
        says=("version goes backwards (v202011191200 -> v202008040000)",)),
    Scenario(
        "new-table-prefix-has-data", 1, add_devices, live=devices_prefix_has_data,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},),
        blocking=frozenset({"P105"}),
        says=("users/devices/v202111230900/ already holds data",)),
    Scenario(
        "change-during-full-load", 1, both(add_devices, remove_referral_codes), live=devices_mid_full_load,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("remove", "users.referral_codes", "v202103010900", None),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},),
        blocking=frozenset({"P106"}),
        says=("would be stopped while users.devices is in Full load",)),
    Scenario(
        "other-task-during-full-load", 2, both(add_devices, sessions_in_reload_task), live=devices_mid_full_load,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_RELOAD: (P.UPDATE, None, (("add", "users.sessions", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_RELOAD,), (resume(USERS_RELOAD),))},)),
    # A console edit in a stack the plan does not touch is a warning (one team's edit never blocks
    # another's change); CloudFormation would leave it in place (it only sends changed properties), so
    # acknowledged (--allow-drift) apply repairs it: stopped, set back to the config's values, resumed.
    Scenario(
        "console-drift", 0, live=console_adds_a_table,
        warnings=frozenset({"P110"}),
        says=("this plan does not touch stack dmsctl-team-growth, so it leaves them as they are",)),
    Scenario(
        "console-drift-allowed", 2, live=console_adds_a_table, flags=Flags(allow_drift=True),
        stacks={}, tasks={},
        steps=({GROWTH: (P.NONE, (USERS_CDC,), (resume(USERS_CDC),))},),
        warnings=frozenset({"P110"}),
        says=("this apply sets them back to the config's values",)),
    # ... and is overwritten by one that does: the tables are diffed against what DMS runs.
    Scenario(
        "console-drift-overwritten", 1, remove_referral_codes, live=console_adds_a_table,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("remove", "users.devices", None, None),
                                            ("remove", "users.referral_codes", "v202103010900", None)))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},),
        blocking=frozenset({"P110"}),
        says=("this plan overwrites them",)),
    Scenario(
        "console-drift-overwritten-allowed", 2, remove_referral_codes, live=console_adds_a_table,
        flags=Flags(allow_drift=True),
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("remove", "users.devices", None, None),
                                            ("remove", "users.referral_codes", "v202103010900", None)))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},),
        warnings=frozenset({"P110"})),
    Scenario(
        "console-settings-drift", 0, live=console_changes_settings,
        warnings=frozenset({"P110"}),
        says=("settings (ChangeProcessingTuning.Batch",)),
    # A team stack deleted by hand (tasks with it) is recreated: a CREATE whose tasks start over, so
    # every table full-loads again and P105 refuses the prefixes that hold data until versions are bumped.
    # (A task left behind in DMS would be P110, see task-name-taken-in-dms; a failed delete is P112.)
    Scenario(
        "stack-deleted", 1, live=growth_stack_deleted,
        stacks={GROWTH: P.CREATE},
        tasks={USERS_CDC: (P.CREATE, None, (("add", "users.accounts", None, "v202008040000"),
                                            ("add", "users.email_verifications", None, "v202103010900"),
                                            ("add", "users.referral_codes", None, "v202103010900"),
                                            ("add", "users.sessions", None, "v202008040000"))),
               USERS_RELOAD: (P.CREATE, None, (("add", "users.accounts", None, "v202011191200"),))},
        steps=({GROWTH: (P.CREATE, (), (start(USERS_CDC), start(USERS_RELOAD)))},),
        blocking=frozenset({"P105"})),
    Scenario(
        "stack-deleted-bumped", 2, bump_growth, live=growth_stack_deleted,
        stacks={GROWTH: P.CREATE},
        tasks={USERS_CDC: (P.CREATE, None, tuple(("add", f"users.{t}", None, NEW) for t in (
            "accounts", "email_verifications", "referral_codes", "sessions"))),
               USERS_RELOAD: (P.CREATE, None, (("add", "users.accounts", None, NEWER),))},
        steps=({GROWTH: (P.CREATE, (), (start(USERS_CDC), start(USERS_RELOAD)))},)),
    # Same tables, TableMappings written differently: DMS is modified all the same, so the task stops.
    Scenario(
        "mappings-rewritten-same-tables", 2, live=growth_deployed_by_another_version,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, ())},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},)),
    Scenario(
        "task-deleted-in-dms", 1, live=users_cdc_deleted_in_dms,
        blocking=frozenset({"P110"}),
        says=("does not exist in DMS (deleted outside dmsctl?)",)),
    Scenario(
        "task-deleted-in-dms-allowed", 0, live=users_cdc_deleted_in_dms, flags=Flags(allow_drift=True),
        warnings=frozenset({"P110"})),
    Scenario(
        "task-deleted-in-dms-then-changed", 1, remove_referral_codes, live=users_cdc_deleted_in_dms,
        flags=Flags(allow_drift=True),
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("remove", "users.referral_codes", "v202103010900", None),))},
        steps=({GROWTH: (P.UPDATE, (), ())},),
        blocking=frozenset({"P110"}),
        says=("updating it would fail the stack update",)),
    Scenario(
        "interrupted-first-deploy-of-a-team", 2, new_team, live=search_change_set_never_executed,
        stacks={"dmsctl-team-search": P.CREATE},
        tasks={"dmsctl-search-docs-cdc": (P.CREATE, None, (("add", "public.documents", None, NEW),))},
        steps=({"dmsctl-team-search": (P.CREATE, (), (start("dmsctl-search-docs-cdc"),))},)),
    Scenario(
        "task-name-taken-in-dms", 1, new_team, live=search_task_created_by_hand, flags=Flags(allow_drift=True),
        stacks={"dmsctl-team-search": P.CREATE},
        tasks={"dmsctl-search-docs-cdc": (P.CREATE, None, (("add", "public.documents", None, NEW),))},
        steps=({"dmsctl-team-search": (P.CREATE, (), (start("dmsctl-search-docs-cdc"),))},),
        blocking=frozenset({"P110"}),
        says=("already exists in DMS but no stack deploys it",)),
    Scenario(
        "failed-task", 1, add_devices, live=users_cdc_failed,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, P.RESUME_TASK, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (), (resume(USERS_CDC),))},),
        blocking=frozenset({"P109"}), warnings=frozenset({"P121"}),
        says=("is failed: source database unreachable",)),
    Scenario(
        "stack-delete-failed", 1, live=growth_stack_delete_failed,
        blocking=frozenset({"P112"}),
        says=("stack dmsctl-team-growth is DELETE_FAILED: a delete failed",)),
    Scenario(
        "base-delete-failed", 1, live=base_delete_failed,
        blocking=frozenset({"P112"}),
        says=("stack dmsctl-base is DELETE_FAILED: a delete failed",)),
    Scenario(
        "base-update-in-progress", 1, add_devices, live=base_update_in_progress,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},),
        blocking=frozenset({"P112"}),
        says=("stack dmsctl-base is UPDATE_IN_PROGRESS: wait for the operation",)),
    Scenario(
        "throttled", 2, add_devices, live=throttled,
        stacks={GROWTH: P.UPDATE},
        tasks={USERS_CDC: (P.UPDATE, None, (("add", "users.devices", None, NEW),))},
        steps=({GROWTH: (P.UPDATE, (USERS_CDC,), (resume(USERS_CDC),))},)),
]


def _starts(ss: P.StackStep) -> tuple[str, ...]:
    return tuple(f"{'resume' if s.start_type == P.RESUME_PROCESSING else 'start'}:{s.identifier}" for s in ss.start)


def observed(plan: P.Plan) -> dict:
    return {
        "exit": plan.exit_code(),
        "stacks": {s.stack: s.action for s in plan.stacks},
        "tasks": {t.identifier: (t.action, t.run_change,
                                 tuple((tc.kind, tc.name, tc.old_version, tc.new_version) for tc in t.tables))
                  for s in plan.stacks for t in s.tasks if t.changed},
        "steps": tuple({ss.stack: (ss.action, ss.stop, _starts(ss)) for ss in step.stacks} for step in plan.steps),
        "blocking": frozenset(c.code for c in plan.checks if c.blocks),
        "warnings": frozenset(c.code for c in plan.checks if not c.blocks),
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(scenario: Scenario, world: World) -> None:
    world.deploy(scenario.before)
    if scenario.live:
        scenario.live(world)
    planned, _ = world.plan(world.tree(scenario.mutate, scenario.base), scenario.flags, env=scenario.env)
    plan = planned.plan
    expected = {"exit": scenario.exit, "stacks": scenario.stacks, "tasks": scenario.tasks, "steps": scenario.steps,
                "blocking": scenario.blocking, "warnings": scenario.warnings}
    assert observed(plan) == expected, [c.message for c in plan.checks]
    for words in scenario.says:
        assert any(words in c.message for c in plan.checks), (words, [c.message for c in plan.checks])
    assert [s.number for s in plan.steps] == list(range(1, len(scenario.steps) + 1))
    assert plan.summary.steps == len(scenario.steps)


def test_missing_bucket_is_p115_and_nothing_else_breaks(world: World) -> None:
    planned, gw = world.plan(world.tree())  # an empty account: not even the data-lake bucket
    plan = planned.plan
    assert [(c.code, c.severity) for c in plan.checks] == [("P115", "error")]
    assert "s3://acme-datalake-staging does not exist" in plan.checks[0].message
    assert plan.exit_code() == 1 and plan.summary.stacks_to_create == 4
    assert gw.calls["s3:ListObjectsV2"] == 1  # NoSuchBucket once is enough: the other prefixes are not asked


BY_NAME = {s.name: s for s in SCENARIOS}


@pytest.mark.parametrize("name", ["console-drift-allowed", "console-drift-overwritten-allowed",
                                  "mappings-rewritten-same-tables"])
def test_what_the_plan_says_is_what_apply_does(name: str, world: World) -> None:
    """What the plan says about drift holds when it is applied: overwritten only by a deploy that sends the
    task new TableMappings, and no task stopped for a deploy that changes nothing.

    (interrupted-first-deploy-of-a-team is not applied here: the sandbox does not create a stack from a
    second CREATE change set on a REVIEW_IN_PROGRESS stack, which real CloudFormation does.)"""
    scenario = BY_NAME[name]
    world.deploy(scenario.before)
    scenario.live(world)
    cfg = world.tree(scenario.mutate)
    planned, _ = world.plan(cfg, scenario.flags)
    stops = {i for step in planned.plan.steps for ss in step.stacks for i in ss.stop}
    mark = world.sandbox.calls.mark()
    world.apply(cfg, scenario.flags)  # apply's own final check: a fresh plan has no step left
    stopped = [c for c in world.sandbox.calls.since(mark) if c.operation == "StopReplicationTask"]
    assert len(stopped) == len(stops)
    after, _ = world.plan(cfg, scenario.flags)
    assert after.plan.steps == ()
    drift = [c for c in after.plan.checks if c.code == "P110"]
    assert drift == [] and after.plan.exit_code() == 0  # acknowledged drift is repaired, not left
    if name == "console-drift-allowed":
        assert ("users", "devices") not in after.live.tasks[USERS_CDC].tables


def test_tables_added_next_to_a_reload_wait_for_step_2(world: World) -> None:
    """Step 1 resumes the task without the reloaded table and without the added one, so no full load
    runs when step 2 stops the task again; both load after step 2."""
    world.deploy()
    cfg = world.tree(bump_foods_add_brands)
    planned, _ = world.plan(cfg)
    step1, step2 = (next(ss for ss in step.stacks if ss.stack == FOOD) for step in planned.plan.steps)
    selected = {n: set(_selected(planned.bodies[ss.template_sha256].template))
                for n, ss in (("1", step1), ("2", step2))}
    assert {"foods", "brands"}.isdisjoint(selected["1"]) and {"foods", "brands"} <= selected["2"]
    world.apply(cfg)
    world.sandbox.advance(3600)
    for table_ in ("foods", "brands"):
        keys = world.sandbox.s3_keys(BUCKET, f"replication/food/fooddb/foodsearch/{table_}/{NEW}/")
        assert any("LOAD" in k for k in keys), table_
    assert world.sandbox.overwrites == []
    assert world.sandbox.table_restarts(FOODSEARCH, "foodsearch", "brands") == 0


def _selected(template: dict) -> list[str]:
    mappings = json.loads(_tasks_in(template)[FOODSEARCH][1]["TableMappings"])
    return [r["object-locator"]["table-name"] for r in mappings["rules"] if r["rule-type"] == "selection"]
