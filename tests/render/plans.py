"""Plans built by hand for the renderer tests (the planner is not involved).

Names follow the example configs: stacks `dmsctl-team-<team>`, tasks `dmsctl-<team>-<task>`,
prefixes `replication/<team>/<source>/<schema>/<table>/<version>/`.
"""

from __future__ import annotations

import dataclasses
import hashlib

from dmsctl.deployer.plan import (
    ADD,
    CREATE,
    DELETE,
    NONE,
    PAUSE,
    PAUSE_TASK,
    RELOAD,
    REMOVE,
    REPLACE,
    RESUME,
    RESUME_PROCESSING,
    START_REPLICATION,
    UPDATE,
    Impact,
    Plan,
    ResourceChange,
    StackChange,
    StackStep,
    Step,
    Summary,
    TableChange,
    TaskChange,
    TaskStart,
    ValueChange,
    check,
)

ONE_STEP = "deploy all changes"
STOPPED = Impact("stop", "stopped for the deploy")
NEW = Impact("new", "new task")
STEP_1_OF_2 = "remove reloaded tables' old versions (and all other changes)"
STEP_2_OF_2 = "add reloaded tables' new versions"
LIVE = "UPDATE_COMPLETE"


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def table(team: str, source: str, schema: str, name: str, kind: str, old: str | None = None,
          new: str | None = None) -> TableChange:
    writes = kind in (ADD, RELOAD, RESUME)
    prefix = f"replication/{team}/{source}/{schema}/{name}/{new or old}/" if writes else None
    return TableChange(schema, name, kind, old, new, prefix)


def task(team: str, name: str, action: str, **kwargs) -> TaskChange:
    return TaskChange(team, name, f"dmsctl-{team}-{name}", action, **kwargs)


def stack(team: str, action: str, *tasks: TaskChange, **kwargs) -> StackChange:
    status = kwargs.pop("status", LIVE)
    return StackChange(f"dmsctl-team-{team}", "team", team, action, status, tasks, **kwargs)


def stack_step(team: str, version: int, stop: tuple[str, ...] = (), start: tuple[TaskStart, ...] = (),
               **kwargs) -> StackStep:
    action = kwargs.pop("action", UPDATE)
    return StackStep(f"dmsctl-team-{team}", action, sha(f"{team}-{version}"), stop, start, **kwargs)


def resume(*identifiers: str) -> tuple[TaskStart, ...]:
    return tuple(TaskStart(i, RESUME_PROCESSING) for i in identifiers)


def start(*identifiers: str) -> tuple[TaskStart, ...]:
    return tuple(TaskStart(i, START_REPLICATION) for i in identifiers)


def summarize(stacks: tuple[StackChange, ...], steps: tuple[Step, ...]) -> Summary:
    """What the planner would count: stacks, tasks and tables by action; distinct tasks stopped."""
    tasks = [t for s in stacks for t in s.tasks]
    tables = [c for t in tasks for c in t.tables]

    reloading = [t for t in tasks if t.impact is not None and t.impact.kind in ("reload", "replace-reload")]

    def count(items, attr, value):
        return sum(1 for x in items if getattr(x, attr) == value)

    return Summary(
        steps=len(steps),
        stacks_to_create=count(stacks, "action", CREATE), stacks_to_update=count(stacks, "action", UPDATE),
        stacks_to_delete=count(stacks, "action", DELETE),
        tasks_to_create=count(tasks, "action", CREATE), tasks_to_update=count(tasks, "action", UPDATE),
        tasks_to_replace=count(tasks, "action", REPLACE), tasks_to_delete=count(tasks, "action", DELETE),
        tasks_to_stop=len({t for step in steps for ss in step.stacks for t in ss.stop}),
        tables_to_add=count(tables, "kind", ADD), tables_to_reload=count(tables, "kind", RELOAD),
        tables_to_remove=count(tables, "kind", REMOVE), tables_to_pause=count(tables, "kind", PAUSE),
        tables_to_resume=count(tables, "kind", RESUME),
        tasks_to_reload=len(reloading), rows_to_reload=sum(t.impact.rows or 0 for t in reloading),
    )


def make_plan(stacks=(), steps=(), checks=(), env="staging", account_id="123456789012") -> Plan:
    stacks, steps, checks = tuple(stacks), tuple(steps), tuple(checks)
    return Plan(env, account_id, "eu-west-1", stacks, steps, checks, summarize(stacks, steps))


# (a) no changes ----------------------------------------------------------------------------------
def no_changes() -> Plan:
    food = stack("food", NONE, task("food", "foodsearch", NONE, live_status="running", table_count=3))
    return make_plan([StackChange("dmsctl-base", "base", None, NONE, "CREATE_COMPLETE"), food])


# (b) one step: 2 tables added, a settings change, a paused task, a resumed table -------------------
def one_step() -> Plan:
    food = stack(
        "food", UPDATE,
        task("food", "foodsearch", UPDATE, live_status="running", impact=STOPPED,
             table_count=5, tables=tuple(table("food", "fooddb", "foodsearch", name, ADD, new="v202103150000")
                                         for name in ("nutrients", "serving_sizes"))),
        task("food", "catalog-snapshot", NONE, live_status="stopped", table_count=2))
    growth = stack("growth", UPDATE, task(
        "growth", "users-cdc", UPDATE, live_status="running", table_count=4, impact=STOPPED,
        values=(ValueChange("settings.ChangeProcessingTuning.BatchApplyTimeoutMax", "30", "60"),
                ValueChange("settings.TargetMetadata.ParallelApplyThreads", "0", "8"))))
    refunds = table("payments", "billingdb", "billing", "refunds", RESUME, old="v202009010000")
    payments = stack(
        "payments", UPDATE,
        task("payments", "billing-cdc", UPDATE, live_status="running", table_count=4, tables=(refunds,),
             impact=STOPPED),
        task("payments", "ledger-cdc", NONE, run_change=PAUSE_TASK, live_status="running", table_count=2,
             impact=Impact("pause", "paused (stopped until resumed)")))
    step = Step(1, ONE_STEP, (
        stack_step("food", 1, ("dmsctl-food-foodsearch",), resume("dmsctl-food-foodsearch")),
        stack_step("growth", 1, ("dmsctl-growth-users-cdc",), resume("dmsctl-growth-users-cdc")),
        stack_step("payments", 1, ("dmsctl-payments-billing-cdc", "dmsctl-payments-ledger-cdc"),
                   resume("dmsctl-payments-billing-cdc"))))
    return make_plan([food, growth, payments], [step])


# (c) two steps: a reload in one task, the new version in parallel in a second (new) task -----------
def two_step_reload() -> Plan:
    barcodes = table("food", "fooddb", "foodsearch", "barcodes", RELOAD, "v202008040000", "v202011191200")
    food = stack("food", UPDATE, task(
        "food", "foodsearch", UPDATE, live_status="running", table_count=3, tables=(barcodes,),
        impact=Impact("reload", "reload of 1 table", 1, 1000, "1,000 rows")))
    accounts = table("growth", "usersdb", "users", "accounts", ADD, new="v202011191200")
    growth = stack(
        "growth", UPDATE,
        task("growth", "users-cdc", NONE, live_status="running", table_count=4),
        task("growth", "users-reload", CREATE, reasons=("new task",), table_count=1, tables=(accounts,),
             impact=NEW, values=(ValueChange("instance", None, "growth-main"), ValueChange("source", None, "usersdb"),
                                 ValueChange("target", None, "s3-1min"),
                                 ValueChange("migration_type", None, "full-load"))))
    foodsearch = "dmsctl-food-foodsearch"
    steps = (
        Step(1, STEP_1_OF_2, (
            stack_step("food", 1, (foodsearch,), resume(foodsearch),
                       wait_dropped=(f"{foodsearch}/{barcodes.name}",)),
            stack_step("growth", 1, start=start("dmsctl-growth-users-reload")))),
        Step(2, STEP_2_OF_2, (stack_step("food", 2, (foodsearch,), resume(foodsearch)),)),
    )
    checks = [check("P110", "warning", "task dmsctl-growth-users-cdc: settings in DMS differ from the deployed "
                    "stack (ChangeProcessingTuning.BatchApplyTimeoutMax)", team="growth", task="users-cdc",
                    acknowledged_by="--allow-drift")]
    return make_plan([food, growth], steps, checks)


# (d) no-go: unacknowledged replacement, full load in progress, non-empty prefix, drift -------------
def no_go() -> Plan:
    nutrients = table("food", "fooddb", "foodsearch", "nutrients", ADD, new="v202103150000")
    food = stack(
        "food", UPDATE,
        task("food", "foodsearch", UPDATE, reasons=("instance food-main changes (the task is stopped while it does)",),
             live_status="running", table_count=4, tables=(nutrients,), impact=STOPPED),
        resources=(ResourceChange("InstanceFoodMain", "AWS::DMS::ReplicationInstance", UPDATE, "instance food-main",
                                  (ValueChange("class", "dms.t3.medium", "dms.r5.large"),
                                   ValueChange("storage_gb", "100", "200"))),))
    growth = stack("growth", UPDATE, task(
        "growth", "users-reload", UPDATE, live_status="running", impact=STOPPED,
        table_count=2, tables=(table("growth", "usersdb", "users", "sessions", ADD, new="v202104010000"),)))
    payments = stack("payments", UPDATE, task(
        "payments", "billing-cdc", REPLACE, live_status="running", table_count=3, restart_reloads_all=True,
        reasons=("SourceEndpointArn changes (source billingdb -> source billingdb-v2)",),
        values=(ValueChange("source", "billingdb", "billingdb-v2"),),
        impact=Impact("replace-reload", "replacement (full reload of 3 tables)", 3, 2_500_000,
                      "2,500,000 rows")))
    step = Step(1, ONE_STEP, (
        stack_step("food", 1, ("dmsctl-food-foodsearch",), resume("dmsctl-food-foodsearch")),
        stack_step("growth", 1, ("dmsctl-growth-users-reload",), resume("dmsctl-growth-users-reload")),
        stack_step("payments", 1, ("dmsctl-payments-billing-cdc",), start("dmsctl-payments-billing-cdc"))))
    checks = [
        check("P110", "warning", "task dmsctl-food-foodsearch: settings in DMS differ from the deployed stack "
              "(Logging.EnableLogging)", team="food", task="foodsearch", acknowledged_by="--allow-drift"),
        check("P105", "error", f"s3://acme-datalake-staging/{nutrients.s3_prefix} already holds data and "
              "foodsearch.nutrients would load into it (never overwrite replicated data): bump the table's version "
              "so it loads into a new prefix", team="food", task="foodsearch", table="foodsearch.nutrients"),
        check("P106", "error", "task dmsctl-growth-users-reload would be stopped while users.accounts is in "
              "Full load (1,234,567 rows so far): stopping restarts that load from zero; wait until it completes, "
              "then plan again", team="growth", task="users-reload", table="users.accounts"),
        check("P107", "error", "task dmsctl-payments-billing-cdc will be REPLACED (SourceEndpointArn changes "
              "(Ref:SourceBillingdb -> Ref:SourceBillingdbV2)): every one of its 3 tables reloads from scratch",
              team="payments", task="billing-cdc", hint="acknowledge with --allow-replace"),
    ]
    return make_plan([food, growth, payments], [step], checks)


# (e) a new team and the base stack, from an empty account ----------------------------------------
def new_team() -> Plan:
    base = StackChange("dmsctl-base", "base", None, CREATE, resources=tuple(
        ResourceChange(logical_id, kind, CREATE) for logical_id, kind in (
            ("DmsServiceRole", "AWS::IAM::Role"), ("DmsSecurityGroup", "AWS::EC2::SecurityGroup"),
            ("DmsSubnetGroup", "AWS::DMS::ReplicationSubnetGroup"),
            ("S3Target1min", "AWS::DMS::Endpoint"), ("S3Target10min", "AWS::DMS::Endpoint"))))
    base = dataclasses.replace(base, resources=base.resources[:3] + (
        ResourceChange("TargetS31min", "AWS::DMS::Endpoint", CREATE, "target s3-1min",
                       (ValueChange("engine", None, "s3"), ValueChange("flush_interval_seconds", None, "60"))),
        ResourceChange("TargetS310min", "AWS::DMS::Endpoint", CREATE, "target s3-10min",
                       (ValueChange("engine", None, "s3"), ValueChange("flush_interval_seconds", None, "600")))))
    foods = tuple(table("food", "fooddb", "foodsearch", name, ADD, new="v202008040000")
                  for name in ("barcodes", "foods"))
    recipes = table("food", "catalogdb", "public", "recipes", ADD, new="v202101010000")
    food = stack(
        "food", CREATE,
        task("food", "foodsearch", CREATE, reasons=("new task",), table_count=2, tables=foods, impact=NEW),
        task("food", "catalog-snapshot", CREATE, reasons=("new task",), table_count=1, tables=(recipes,), impact=NEW),
        status=None, resources=(
            ResourceChange("InstanceFoodMain", "AWS::DMS::ReplicationInstance", CREATE, "instance food-main",
                           (ValueChange("class", None, "dms.r5.large"), ValueChange("storage_gb", None, "200"),
                            ValueChange("multi_az", None, "false"))),
            ResourceChange("SourceFooddb", "AWS::DMS::Endpoint", CREATE, "source fooddb",
                           (ValueChange("engine", None, "postgres"),
                            ValueChange("server", None, "fooddb.staging.internal.acme.io"),
                            ValueChange("database", None, "fooddb"),
                            ValueChange("secret_id", None, "dms/food/fooddb-staging"))),
            ResourceChange("SourceCatalogdb", "AWS::DMS::Endpoint", CREATE, "source catalogdb")))
    step = Step(1, ONE_STEP, (
        StackStep("dmsctl-base", CREATE, sha("base-1")),
        stack_step("food", 1, action=CREATE,
                   start=start("dmsctl-food-foodsearch", "dmsctl-food-catalog-snapshot"))))
    return make_plan([base, food], [step], env="sandbox", account_id="000000000000")


# (f) a removed team: its stack is deleted, acknowledged by --allow-delete --------------------------
def removed_team() -> Plan:
    removed = tuple(table("legacy", "ordersdb", "orders", name, REMOVE, old="v202001010000")
                    for name in ("orders", "items"))
    legacy = stack(
        "legacy", DELETE,
        task("legacy", "orders-cdc", DELETE, reasons=("team file removed",), live_status="running",
             tables=removed, impact=Impact("removal", "removal")),
        resources=(ResourceChange("InstanceLegacyMain", "AWS::DMS::ReplicationInstance", DELETE,
                                  "instance dmsctl-legacy-main"),
                   ResourceChange("SourceOrdersdb", "AWS::DMS::Endpoint", DELETE,
                                  "endpoint dmsctl-legacy-src-ordersdb")))
    step = Step(1, ONE_STEP, (StackStep("dmsctl-team-legacy", DELETE, None,
                                        stop=("dmsctl-legacy-orders-cdc",)),))
    checks = [check("P108", "warning", "stack dmsctl-team-legacy will be DELETED with all its tasks (data already "
                    "in S3 stays)", team="legacy", acknowledged_by="--allow-delete")]
    return make_plan([legacy], [step], checks)


# huge ------------------------------------------------------------------------------------------
def huge(teams: int = 200, tasks: int = 50, tables: int = 50) -> Plan:
    """teams × tasks × tables table additions in one step: far beyond any comment size."""
    stacks, stack_steps = [], []
    for i in range(teams):
        team = f"team{i:03d}"
        added = tuple(table(team, "db", "app", f"table_{k:02d}", ADD, new="v202401010000")
                      for k in range(tables))
        reasons = (f"table mappings: {tables} tables added",)
        changes = tuple(task(team, f"task{j:02d}", UPDATE, reasons=reasons, live_status="running",
                             table_count=tables, tables=added) for j in range(tasks))
        stacks.append(stack(team, UPDATE, *changes))
        ids = tuple(t.identifier for t in changes)
        stack_steps.append(StackStep(f"dmsctl-team-{team}", UPDATE, sha(team), stop=ids, start=resume(*ids)))
    return make_plan(stacks, [Step(1, ONE_STEP, tuple(stack_steps))])


GOLDEN_CASES = {"one_step": one_step, "two_step_reload": two_step_reload, "no_go": no_go,
                "new_team": new_team}
