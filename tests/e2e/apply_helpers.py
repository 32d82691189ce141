"""Helpers for the `dmsctl apply` end-to-end tests: config scenarios and the invariants every apply keeps.

Scenarios start from the example configs deployed and running with their full loads finished
(`deploy_examples`), then change the config (`tree`) and apply. `assert_safe_and_converged` checks
what must hold after every apply: nothing that should run is left stopped, no full load was
interrupted, no S3 object was overwritten, only the tasks the plan lists were stopped, and a fresh
plan says "No changes".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import yaml

from dmsctl.deployer import plan as P
from dmsctl.deployer.apply import Applier, Timeouts
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import NullSink, Progress
from tests.helpers import EXAMPLES, write_tree

BUCKET = "acme-datalake-staging"
STATE_TABLE_SERVICE = "dynamodb"
SETTLE = 3600  # sim seconds: every full load of the examples (1000 rows at 50 rows/s) is long done


class Crash(BaseException):
    """Process death: not an Exception, so no `except` in the deployer catches it and no restore runs."""


# Config changes used across the tests (each mutates the team documents in place).
def tune_foodsearch(teams: dict) -> None:
    """A task settings change (foodsearch stopped, updated, resumed)."""
    teams["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 90


def add_growth_table(teams: dict) -> None:
    """A new table in users-cdc (one step)."""
    teams["growth"]["tasks"]["users-cdc"]["tables"].append(
        {"schema": "users", "table": "devices", "version": "v202111010000"})


def bump_foods(teams: dict) -> None:
    """foodsearch.foods v202008040000 -> v202111230900: a reload in place (two steps)."""
    teams["food"]["tasks"]["foodsearch"]["tables"][0]["version"] = "v202111230900"


def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(teams: dict) -> None:
        for m in mutations:
            m(teams)
    return mutate


def base_doc() -> dict:
    return yaml.safe_load((EXAMPLES / "base.yaml").read_text())


def example_teams() -> dict:
    return {p.stem: yaml.safe_load(p.read_text()) for p in (EXAMPLES / "teams").glob("*.yaml")}


def tree(root: Path, mutate: Callable[[dict], None] | None = None,
         base: Callable[[dict], None] | None = None) -> Path:
    """The example configs, changed by `mutate(teams)` (and `base(base_doc)`), written under `root`."""
    teams = copy.deepcopy(example_teams())
    doc = base_doc()
    if mutate:
        mutate(teams)
    if base:
        base(doc)
    return write_tree(root, base=doc, teams=teams)


def deploy_examples(harness, sandbox, root: Path) -> Path:
    """Empty account -> the example configs deployed, every task that should run running, loads done."""
    sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg = tree(root / "before")
    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]  # its final check planned "No changes"
    sandbox.advance(SETTLE)
    return cfg


def tasks(sandbox) -> dict[str, dict]:
    """identifier -> DescribeReplicationTasks row."""
    rows = sandbox.client("dms").describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"]
    return {t["ReplicationTaskIdentifier"]: t for t in rows}


def status(sandbox, ident: str) -> str:
    return tasks(sandbox)[ident]["Status"]


def table_stats(sandbox, ident: str) -> dict[str, dict]:
    arn = tasks(sandbox)[ident]["ReplicationTaskArn"]
    rows = sandbox.client("dms").describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    return {f"{r['SchemaName']}.{r['TableName']}": r for r in rows}


def sandbox_keys(sandbox, prefix: str) -> list[str]:
    """Keys under `prefix` in the data-lake bucket, relative to it."""
    return sorted(k[len(prefix):] for k in sandbox.s3_keys(BUCKET, prefix))


def stopped_since(sandbox, mark: int, arns: dict[str, str]) -> set[str]:
    """Task identifiers (via `arns`: identifier -> ARN, read before the apply) stopped since `mark`."""
    by_arn = {a: i for i, a in arns.items()}
    return {by_arn.get(c.params.get("ReplicationTaskArn"), c.params.get("ReplicationTaskArn"))
            for c in sandbox.calls.since(mark) if c.operation == "StopReplicationTask"}


def plan_stops(plan: P.Plan) -> set[str]:
    return {i for step in plan.steps for s in step.stacks for i in s.stop}


def resource_mutations(calls) -> list:
    """Mutating calls on DMS, CloudFormation and S3 (the state table's lock item and run records aside)."""
    return [c for c in calls if c.mutating and c.service != STATE_TABLE_SERVICE]


def state_table_writes(calls) -> list[str]:
    return [c.operation for c in calls if c.mutating and c.service == STATE_TABLE_SERVICE]


def make_lock(harness, cfg: Path):
    """The environment's lock, as `Applier` builds it (wall-clock expiry, like every real run)."""
    from dmsctl.compiler import naming
    from dmsctl.deployer.lock import Lock

    tree_ = harness.compile(cfg).tree
    return Lock(harness.gateway(read_only=False), naming.lock_table(tree_.resource_prefix), tree_.env)


def lock_holder(harness, cfg: Path):
    """Who holds the environment's lock now (LockInfo), or None."""
    return make_lock(harness, cfg).current()


def gateway(harness, **kw) -> Gateway:
    """A writable gateway like the harness's (sim-clock waits), with Gateway options overridden."""
    clock = harness.sandbox.clock
    options = dict(read_only=False, endpoint_url=harness.sandbox.endpoint_url, sleep=clock.sleep,
                   monotonic=lambda: clock.now().timestamp(), max_attempts=4)
    return Gateway(harness.sandbox.region, **{**options, **kw})


def applier(harness, cfg: Path, flags: Flags | None = None, timeouts: Timeouts | None = None,
            gw: Gateway | None = None, **kw) -> Applier:
    """An Applier wired like `harness.apply`, for tests that call `run` themselves."""
    clock = harness.sandbox.clock
    progress = Progress(sink=NullSink(), monotonic=lambda: clock.now().timestamp())
    return Applier(gw or harness.gateway(read_only=False), harness.compile(cfg), progress,
                   flags=flags or Flags(), timeouts=timeouts or Timeouts(), **kw)


def assert_tasks_up(harness, sandbox, cfg: Path) -> None:
    """Every task config wants running is running (a finished full-load-only task may be stopped)."""
    live = tasks(sandbox)
    for t in harness.compile(cfg).tree.tasks():
        row = live.get(t.identifier)
        assert row is not None, f"{t.identifier} does not exist"
        if t.paused or t.schedule:  # a scheduled task runs on its schedule, never because of a deploy
            assert row["Status"] in ("ready", "stopped"), (t.identifier, row["Status"])
        elif t.migration_type == "full-load":
            assert row["Status"] == "running" or "FULL_LOAD_ONLY_FINISHED" in (row.get("StopReason") or ""), \
                (t.identifier, row["Status"], row.get("StopReason"))
        else:
            assert row["Status"] == "running", (t.identifier, row["Status"], row.get("LastFailureMessage"))


def assert_no_load_restarted(sandbox) -> None:
    """No full load of any table of any task was interrupted (they would restart from zero)."""
    restarted = {f"{ident}/{name}": info["restarts"] for ident in tasks(sandbox)
                 for name, info in sandbox.tables(ident).items() if info["restarts"]}
    assert restarted == {}


def assert_no_stopped_by_tags(harness, sandbox, cfg: Path) -> None:
    """No task config wants running still carries the tag apply puts on the tasks it stops.

    (A task paused in config keeps it: it names the run that stopped it.)"""
    dms = sandbox.client("dms")
    wanted = {t.identifier for t in harness.compile(cfg).tree.tasks() if not t.paused}
    for ident, row in tasks(sandbox).items():
        if ident not in wanted:
            continue
        tags = dms.list_tags_for_resource(ResourceArn=row["ReplicationTaskArn"])["TagList"]
        assert "dmsctl:stopped-by-run" not in {t["Key"] for t in tags}, ident


def assert_safe_and_converged(harness, sandbox, cfg: Path, flags: Flags | None = None) -> None:
    assert_tasks_up(harness, sandbox, cfg)
    assert_no_load_restarted(sandbox)
    assert sandbox.overwrites == []
    again = harness.plan(cfg, flags=flags)[0].plan
    assert not again.has_changes, again
    holder = lock_holder(harness, cfg)
    assert holder is None, holder


def run_scenario(harness, sandbox, tmp_path, mutate, flags: Flags | None = None, base=None):
    """Deploy the examples, change them with `mutate`, plan, apply; check the invariants.

    `mutate(teams)` runs once the examples are deployed and loaded, so it may also record the
    state before the change (e.g. the keys under a prefix).

    Returns (plan, cfg, mark, arns, progress): the plan apply executed, the changed config, the
    call-log position before the apply and the task ARNs before it."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", mutate, base)
    plan = harness.plan(cfg, flags=flags)[0].plan
    assert plan.go, [c.message for c in plan.checks if c.blocks]
    assert plan.has_changes
    arns = {i: t["ReplicationTaskArn"] for i, t in tasks(sandbox).items()}
    mark = sandbox.calls.mark()
    code, applier_, progress = harness.apply(cfg, flags=flags)
    assert code == 0 and applier_.record.result == "applied", [e.message for e in progress.events]
    assert applier_.record.plan_checksum == plan.checksum
    assert stopped_since(sandbox, mark, arns) == plan_stops(plan)
    assert_safe_and_converged(harness, sandbox, cfg, flags)
    assert_no_stopped_by_tags(harness, sandbox, cfg)
    return plan, cfg, mark, arns, progress
