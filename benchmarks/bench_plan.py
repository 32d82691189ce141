"""AWS calls and wall time of `dmsctl plan` on a deployed tree after a small change, next to the
lower bound and to a per-resource refresh."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from math import ceil
from pathlib import Path

from benchmarks import child
from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.live import STATS_PAGE, TASK_PAGE
from dmsctl.deployer.planner import make_plan

DMS_RESOURCES = ("AWS::DMS::ReplicationTask", "AWS::DMS::Endpoint", "AWS::DMS::ReplicationInstance")


def gateway(url: str, region: str) -> Gateway:
    return Gateway(region, read_only=True, endpoint_url=url)


def describe_stacks_page(sb) -> tuple[int, int]:
    """(stacks in the account, stacks per DescribeStacks page) as the sandbox serves them."""
    cfn = sb.client("cloudformation")
    first = cfn.describe_stacks()
    total = sum(len(p["Stacks"]) for p in cfn.get_paginator("describe_stacks").paginate())
    return total, len(first["Stacks"]) if first.get("NextToken") else max(total, 1)


def lower_bound(
    stacks: int,
    stack_page: int,
    tasks: int,
    stopped_tables: list[int],
    new_prefixes: int,
    changed_stacks: int,
) -> dict:
    """The fewest calls any correct plan can make: every page of the two listings it must read,
    the template of each changed stack, the table statistics of each task it stops (to never
    interrupt a full load), one S3 listing per new prefix (to never write into a non-empty one),
    the account id (to never plan against the wrong account) and the two DMS service roles DMS requires
    (P123)."""
    bound = {
        "sts:GetCallerIdentity": 1,
        "iam:GetRole": 2,
        "cloudformation:DescribeStacks": ceil(stacks / stack_page),
        "cloudformation:GetTemplate": changed_stacks,
        "dms:DescribeReplicationTasks": ceil(tasks / TASK_PAGE),
        "dms:DescribeTableStatistics": sum(ceil(max(n, 1) / STATS_PAGE) for n in stopped_tables),
        "s3:ListObjectsV2": new_prefixes,
    }
    return {k: v for k, v in bound.items() if v}


def per_resource_refresh(result) -> dict:
    """What a refresh of every resource costs (one describe per DMS task, endpoint and instance,
    as Terraform's refresh does; other resource types would only add to it)."""
    types = Counter(
        r.get("Type") for s in result.tree.stacks for r in s.template.get("Resources", {}).values()
    )
    return {"dms_resources": sum(types[t] for t in DMS_RESOURCES), "all_resources": sum(types.values())}


def plan_once(url: str, result) -> tuple[object, Counter, float]:
    gw = gateway(url, result.tree.region)
    t0 = time.perf_counter()
    planned = make_plan(result, gw)
    return planned, gw.calls, time.perf_counter() - t0


def plan_runs(url: str, config_dir: Path, runs: int) -> dict:
    """(In a fresh process: see child.py.) Plan `config_dir` `runs` times; the calls of the first."""
    result = compile_tree(config_dir, "staging")
    out = [plan_once(url, result) for _ in range(runs)]
    planned, calls, _ = out[0]
    s = planned.plan.summary
    return {
        "calls": dict(sorted(calls.items())),
        "calls_all_runs": sum(sum(c.values()) for _, c, _ in out),
        "runs": [round(w, 3) for _, _, w in out],
        "plan": {
            "go": planned.plan.go,
            "has_changes": planned.plan.has_changes,
            "stacks_changed": len(planned.plan.stacks),
            "tasks_to_stop": s.tasks_to_stop,
            "tables_to_add": s.tables_to_add,
        },
    }


def measure(sb, before_dir: Path, after_dir: Path, changed_task: str, repeat: int) -> dict:
    """Plan `after_dir` against the sandbox account `sb` where `before_dir` is deployed and running."""
    nochange = child.run("plan", sb.endpoint_url, before_dir, 1)  # checks the seeding: must be "No changes"
    mark = len(sb.call("calls"))
    changed = child.run("plan", sb.endpoint_url, after_dir, 1 + repeat)
    served = len(sb.call("calls")[mark:])
    before, after = compile_tree(before_dir, "staging"), compile_tree(after_dir, "staging")
    old_task = next(t for t in before.tree.tasks() if t.identifier == changed_task)
    stacks, page = describe_stacks_page(sb)
    stopped_tables = [sum(1 for tb in old_task.tables if not tb.paused)]
    bound = lower_bound(
        stacks, page, len(before.tree.tasks()), stopped_tables, new_prefixes=1, changed_stacks=1
    )
    runs = changed["runs"]
    return {
        "calls": changed["calls"],
        "total": sum(changed["calls"].values()),
        "served_by_sandbox_all_runs": served,
        "sent_all_runs": changed["calls_all_runs"],
        "nochange_total": sum(nochange["calls"].values()),
        "nochange_has_changes": nochange["plan"]["has_changes"],
        "lower_bound": bound,
        "lower_bound_total": sum(bound.values()),
        "describe_stacks_page": page,
        "stacks_in_account": stacks,
        "per_resource_refresh": per_resource_refresh(after),
        "first_seconds": runs[0],
        "seconds": round(statistics.median(runs[1:] or runs), 3),
        "runs": runs[1:],
        "plan": changed["plan"],
    }
