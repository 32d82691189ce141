"""What the planner asks AWS: exactly which reads, how many, never a write, and throttling survived."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from dmsctl.deployer import live as live_mod
from dmsctl.deployer import planner as planner_mod
from dmsctl.deployer.errors import ReadOnlyViolation
from tests.planner.conftest import BUCKET, World, fast_retries
from tests.planner.test_scenarios import (
    FOODSEARCH,
    NEW,
    USERS_CDC,
    add_devices,
    bump_foods,
    devices_mid_full_load,
    tables,
)


def sandbox_counter(calls) -> Counter:
    return Counter(f"{c.service}:{c.operation}" for c in calls)


def changed_stacks(world: World, before, after) -> int:
    old = {s.name: s.template_sha256 for s in world.harness.compile(before).tree.stacks}
    return sum(1 for s in world.harness.compile(after).tree.stacks if old.get(s.name) != s.template_sha256)


def expected_reads(*, stacks_changed: int, tasks: int, statistics: int, new_prefixes: int,
                   no_stacks: bool = False) -> Counter:
    """The planner's read budget (deployer/live.py): one page of stacks (< 50 of them; the account id is read
    from a stack ARN, STS only when the account has no stack), the deployed template of each changed stack
    only, tasks in pages of 100 (an empty answer is one page too), then one page of table statistics (< 500
    tables) per task `needs_statistics` names and one ListObjectsV2 per prefix a table starts loading into;
    one GetRole per DMS service role (P123, deployer/prerequisites.py)."""
    expected = Counter({"sts:GetCallerIdentity": int(no_stacks), "cloudformation:DescribeStacks": 1,
                        "iam:GetRole": 2, "cloudformation:GetTemplate": stacks_changed,
                        "dms:DescribeReplicationTasks": max(1, math.ceil(tasks / 100)),
                        "dms:DescribeTableStatistics": statistics, "s3:ListObjectsV2": new_prefixes})
    return +expected  # drop zero counts


@pytest.mark.parametrize(("name", "mutate", "statistics", "prefixes"), [
    ("no-change", None, 0, 0),
    # users-cdc stops, but DMS counts no table of it loading or queued (A75): no statistics;
    # users/devices/<new version>/ is checked
    ("add-one-table", add_devices, 0, 1),
    ("bump-one-version", bump_foods, 1, 1),  # foodsearch reloads: its statistics, once for both steps
])
def test_plan_reads_exactly_what_it_needs(world: World, name, mutate, statistics, prefixes) -> None:
    before = world.deploy()
    after = world.tree(mutate)
    tasks = len(world.harness.compile(after).tree.tasks())
    mark = world.sandbox.calls.mark()
    planned, gw = world.plan(after)
    expected = expected_reads(stacks_changed=changed_stacks(world, before, after), tasks=tasks,
                              statistics=statistics, new_prefixes=prefixes)
    assert gw.calls == expected
    assert sandbox_counter(world.sandbox.calls.since(mark)) == expected  # AWS saw the same: no hidden call
    assert planned.plan.exit_code() == (0 if mutate is None else 2)


def test_first_deploy_reads_no_template_and_no_statistics(world: World) -> None:
    world.sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg = world.tree()
    compiled = world.harness.compile(cfg).tree
    prefixes = {tb.s3_prefix for t in compiled.tasks() for tb in t.tables if not tb.paused}
    # every new prefix sits under a new <root>/<team>/<source>/: one listing per source says they are all empty
    sources = {(t.team, t.source) for t in compiled.tasks()}
    assert len(sources) < len(prefixes)
    planned, gw = world.plan(cfg)
    assert gw.calls == expected_reads(stacks_changed=0, tasks=0, statistics=0, new_prefixes=len(sources),
                                      no_stacks=True)
    assert planned.plan.summary.stacks_to_create == len(compiled.stacks)


def test_wrong_account_reads_nothing_after_the_first_page_of_stacks(world: World) -> None:
    world.deploy()
    planned, gw = world.plan(world.tree(), env="prod")
    assert gw.calls == Counter({"cloudformation:DescribeStacks": 1})  # the account id is in every stack ARN
    assert [c.code for c in planned.plan.checks] == ["P114"]
    assert planned.plan.stacks == () and planned.plan.steps == () and planned.plan.exit_code() == 1


def test_an_account_without_stacks_is_identified_by_sts(world: World) -> None:
    planned, gw = world.plan(world.tree(), env="prod")
    assert gw.calls == Counter({"cloudformation:DescribeStacks": 1, "sts:GetCallerIdentity": 1})
    assert [c.code for c in planned.plan.checks] == ["P114"]


def test_account_id_comes_from_a_stack_arn_and_otherwise_from_sts(world: World) -> None:
    gw = world.harness.gateway(read_only=True)
    account = live_mod.account_id(gw)
    assert gw.calls == Counter({"cloudformation:DescribeStacks": 1, "sts:GetCallerIdentity": 1})
    world.deploy()
    gw = world.harness.gateway(read_only=True)
    assert live_mod.account_id(gw) == account
    assert gw.calls == Counter({"cloudformation:DescribeStacks": 1})
    assert live_mod.account_of("arn:aws-cn:cloudformation:cn-north-1:210987654321:stack/s/x") == "210987654321"
    assert live_mod.account_of("not-an-arn") is None


def test_statistics_are_read_when_a_stopped_task_has_a_table_loading(world: World) -> None:
    world.deploy()
    devices_mid_full_load(world)  # users-cdc full-loads users.devices
    row = world.task(USERS_CDC)
    assert row["ReplicationTaskStats"]["TablesLoading"] == 1
    def and_another(teams) -> None:  # one more table added to users-cdc: no reload, no removal
        add_devices(teams)
        tables(teams, "growth", "users-cdc").append({"schema": "users", "table": "logins", "version": NEW})

    planned, gw = world.plan(world.tree(and_another))
    assert gw.calls["dms:DescribeTableStatistics"] == 1  # users-cdc stops while a table is loading
    assert "P106" in {c.code for c in planned.plan.checks}


# -- throttling --------------------------------------------------------------------------------------

def test_throttled_reads_are_retried_and_the_plan_is_unchanged(world: World, monkeypatch) -> None:
    world.deploy()
    cfg = world.tree(bump_foods)  # a reload: its task's statistics are read
    reference, reference_gw = world.plan(cfg)
    slept = fast_retries(monkeypatch)
    throttles = {("dms", "DescribeReplicationTasks"): 2, ("cloudformation", "DescribeStacks"): 3,
                 ("cloudformation", "GetTemplate"): 1, ("dms", "DescribeTableStatistics"): 2}
    # (the sandbox cannot throttle S3; STS is not asked: the account id is in the stack ARNs)
    for (service, op), times in throttles.items():
        world.sandbox.faults.throttle(service, op, times)
    mark = world.sandbox.calls.mark()
    planned, gw = world.plan(cfg)
    assert planned.plan.checksum == reference.plan.checksum
    assert gw.calls == reference_gw.calls  # the gateway counts pages, not attempts
    seen = sandbox_counter(world.sandbox.calls.since(mark))
    for (service, op), times in throttles.items():
        assert seen[f"{service}:{op}"] == reference_gw.calls[f"{service}:{op}"] + times, (service, op)
    assert len(slept) == sum(throttles.values())  # one backoff per throttled attempt


def test_throttling_that_outlasts_the_retries_is_an_error_naming_the_call(world: World, monkeypatch) -> None:
    from dmsctl.deployer.errors import AwsError

    world.deploy()
    fast_retries(monkeypatch)
    world.sandbox.faults.throttle("dms", "DescribeReplicationTasks", 50)
    mark = world.sandbox.calls.mark()
    with pytest.raises(AwsError, match="kept throttling dms:DescribeReplicationTasks") as caught:
        world.harness.plan(world.tree())
    assert "nothing was changed" in str(caught.value)
    seen = world.sandbox.calls.since(mark)
    assert [c for c in seen if c.mutating] == []
    # the harness gateway's max_attempts=4: botocore counts retries, so 1 attempt + 4 retries
    assert sandbox_counter(seen)["dms:DescribeReplicationTasks"] == 5


# -- read-only, through the real planner ----------------------------------------------------------------

def test_a_write_slipped_into_a_planner_read_is_refused_before_it_is_sent(world: World, monkeypatch) -> None:
    world.deploy()

    def sneaky_prefix_check(gw, bucket, prefix):
        gw.call("s3", "put_object", Bucket=bucket, Key=prefix + "marker", Body=b"")
        return False

    monkeypatch.setattr(live_mod, "prefix_has_objects", sneaky_prefix_check)
    mark = world.sandbox.calls.mark()
    with pytest.raises(ReadOnlyViolation, match="refused s3:PutObject"):
        world.harness.plan(world.tree(add_devices))
    assert [c for c in world.sandbox.calls.since(mark) if c.mutating] == []
    assert world.sandbox.s3_keys(BUCKET, "replication/growth/usersdb/users/devices/") == []


def test_a_write_on_the_raw_client_is_refused_by_the_botocore_hook(world: World, monkeypatch) -> None:
    world.deploy()

    def sneaky_stats(gw, task):
        gw._client("dms").stop_replication_task(ReplicationTaskArn=task.arn)  # bypasses Gateway.call
        return ()

    monkeypatch.setattr(planner_mod, "read_table_stats", sneaky_stats)
    mark = world.sandbox.calls.mark()
    with pytest.raises(ReadOnlyViolation, match="refused dms:StopReplicationTask"):
        world.harness.plan(world.tree(bump_foods))  # a reload: statistics read
    assert [c for c in world.sandbox.calls.since(mark) if c.mutating] == []
    assert world.task(FOODSEARCH)["Status"] == "running"


def test_the_planner_module_reads_through_the_gateway_only() -> None:
    for module in (planner_mod, live_mod):
        assert "boto3" not in vars(module) and "botocore" not in vars(module), module.__name__
