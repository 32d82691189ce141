"""AWS calls, CPU and wall time of `dmsctl plan` on a deployed tree after a small change, next to the
lower bound and to a per-resource refresh; its hot spots (cProfile) and its growth curve."""

from __future__ import annotations

import cProfile
import dataclasses
import io
import math
import pstats
import random
import statistics
import time
from collections import Counter
from math import ceil
from pathlib import Path

from benchmarks import child
from benchmarks.bench_compile import slope
from benchmarks.generate import dump, generate, team_doc
from dmsctl.compiler.build import compile_tree
from dmsctl.deployer import mappings_semantics
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
    statistics_tables: list[int],
    new_prefixes: int,
    changed_stacks: int,
) -> dict:
    """The fewest calls a correct plan can make (README.md, "plan calls"): every page of the stacks
    (the account id is in their ARNs: STS only for an account without stacks), the template of each
    changed stack, every page of the tasks (the status of every task: a stopped one is resumed whichever
    team's change it is, P121, and a task paused in config changes no template), the table statistics of
    each task that needs them (stopped while DMS counts a table loading or queued, or reloading, replaced
    or losing a table: `statistics_tables`, their table counts), one S3 listing per new prefix, and the two
    DMS service roles (P123)."""
    bound = {
        "sts:GetCallerIdentity": 0 if stacks else 1,
        "iam:GetRole": 2,
        "cloudformation:DescribeStacks": max(1, ceil(stacks / stack_page)),
        "cloudformation:GetTemplate": changed_stacks,
        "dms:DescribeReplicationTasks": max(1, ceil(tasks / TASK_PAGE)),
        "dms:DescribeTableStatistics": sum(ceil(max(n, 1) / STATS_PAGE) for n in statistics_tables),
        "s3:ListObjectsV2": new_prefixes,
    }
    return {k: v for k, v in bound.items() if v}


def per_resource_refresh(result) -> dict:
    """What a refresh of every resource costs, as Terraform's AWS provider makes it: per DMS task,
    endpoint and replication instance one describe and one ListTagsForResource (other resource types,
    IAM roles and the rest, would only add to it: `all_resources` counts them)."""
    types = Counter(
        r.get("Type") for s in result.tree.stacks for r in s.template.get("Resources", {}).values()
    )
    dms = sum(types[t] for t in DMS_RESOURCES)
    return {"dms_resources": dms, "dms_calls": 2 * dms, "all_resources": sum(types.values())}


def plan_once(url: str, result, gw: Gateway | None = None) -> tuple[object, Counter, float, float]:
    """One plan: (planned, its calls, wall seconds, CPU seconds of this process). `gw`: a gateway whose
    clients an earlier plan of this process built, as one `dmsctl` run has (None: a new one)."""
    gw = gw or gateway(url, result.tree.region)
    before = Counter(gw.calls)
    t0, c0 = time.perf_counter(), time.process_time()
    planned = make_plan(result, gw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return planned, gw.calls - before, wall, cpu


def uncached(result):
    """The compile result as `compile_tree` returns it, without what an earlier plan cached on it (each
    stack's parsed template, the settings comparisons): every timed plan pays what the one plan of a
    `dmsctl plan` run pays."""
    mappings_semantics.clear_memo()
    tree = dataclasses.replace(result.tree, stacks=tuple(dataclasses.replace(s) for s in result.tree.stacks))
    return dataclasses.replace(result, tree=tree)


def plan_runs(url: str, config_dir: Path, runs: int) -> dict:
    """(In a fresh process: see child.py.) Plan `config_dir` `runs` times with one gateway (the first run
    creates its boto3 clients and loads their service models) and a compile result fresh for each
    (`uncached`); the calls of the first."""
    result = compile_tree(config_dir, "staging")
    gw = gateway(url, result.tree.region)
    out = [plan_once(url, uncached(result), gw) for _ in range(runs)]
    planned, calls, _, _ = out[0]
    s = planned.plan.summary
    return {
        "calls": dict(sorted(calls.items())),
        "calls_all_runs": sum(sum(c.values()) for _, c, _, _ in out),
        "runs": [round(w, 3) for _, _, w, _ in out],
        "cpu_runs": [round(c, 3) for _, _, _, c in out],
        "plan": {
            "go": planned.plan.go,
            "has_changes": planned.plan.has_changes,
            "stacks_changed": len(planned.plan.stacks),
            "tasks_to_stop": s.tasks_to_stop,
            "tables_to_add": s.tables_to_add,
        },
    }


def _where(fn: tuple) -> str:
    path, line, name = fn
    short = path.split("/site-packages/")[-1].split("/wt-floor/")[-1].split("/dmsctl/")[-1]
    return f"{short}:{line}({name})"


def plan_profile(url: str, config_dir: Path, top: int = 5) -> dict:
    """(In a fresh process.) cProfile (CPU time) of a plan after a first one with the same gateway
    (clients built, models loaded): the `top` functions by own time, and the `top` dmsctl functions by
    cumulative time."""
    result = compile_tree(config_dir, "staging")
    gw = gateway(url, result.tree.region)
    plan_once(url, uncached(result), gw)
    prof = cProfile.Profile(time.process_time)  # CPU time: a loaded machine does not move the numbers
    prof.enable()
    plan_once(url, uncached(result), gw)
    prof.disable()
    st = pstats.Stats(prof, stream=io.StringIO())
    rows = st.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in rows.values())

    def entry(fn, v) -> dict:
        return {"function": _where(fn), "calls": v[1], "own_s": round(v[2], 3), "cumulative_s": round(v[3], 3)}

    own = sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]
    ours = [kv for kv in rows.items() if "dmsctl" in kv[0][0] or "/deployer/" in kv[0][0] or "/compiler/" in kv[0][0]]
    mine = sorted((kv for kv in ours if kv[0][2] not in ("make_plan",)), key=lambda kv: -kv[1][3])[:top]
    return {"profiled_cpu_s": round(total, 3), "own_time": [entry(*kv) for kv in own],
            "dmsctl_cumulative": [entry(*kv) for kv in mine]}


def _needs_statistics_bound(sb, task_id: str, tables: int) -> list[int]:
    """The changed task needs its table statistics when DMS counts a table of it loading or queued
    (it is stopped; a table is added: no reload, no removal); any task needs them when DMS counts a
    table of it in error (P126). Read from the sandbox, not the planner."""
    rows = [t for page in sb.client("dms").get_paginator("describe_replication_tasks").paginate(WithoutSettings=True)
            for t in page["ReplicationTasks"]]
    out = []
    for row in rows:
        stats = row.get("ReplicationTaskStats") or {}
        errored = stats.get("TablesErrored", 0) > 0
        if row["ReplicationTaskIdentifier"] == task_id:
            if errored or stats.get("TablesLoading", 1) + stats.get("TablesQueued", 1) > 0:
                out.append(tables)
        elif errored:
            out.append(stats.get("TablesLoaded", 0) + stats.get("TablesErrored", 0))
    return out


def measure(sb, before_dir: Path, after_dir: Path, changed_task: str, repeat: int) -> dict:
    """Plan `after_dir` against the sandbox account `sb` where `before_dir` is deployed and running."""
    nochange = child.run("plan", sb.endpoint_url, before_dir, 1)  # checks the seeding: must be "No changes"
    mark = len(sb.call("calls"))
    changed = child.run("plan", sb.endpoint_url, after_dir, 1 + repeat)
    served = len(sb.call("calls")[mark:])
    before, after = compile_tree(before_dir, "staging"), compile_tree(after_dir, "staging")
    old_task = next(t for t in before.tree.tasks() if t.identifier == changed_task)
    stacks, page = describe_stacks_page(sb)
    statistics_tables = _needs_statistics_bound(sb, changed_task, sum(1 for tb in old_task.tables if not tb.paused))
    bound = lower_bound(
        stacks, page, len(before.tree.tasks()), statistics_tables, new_prefixes=1, changed_stacks=1
    )
    runs, cpu = changed["runs"], changed["cpu_runs"]
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
        "first_cpu_seconds": cpu[0],
        "cpu_seconds": round(statistics.median(cpu[1:] or cpu), 3),
        "runs": runs[1:],
        "cpu_runs": cpu[1:],
        "plan": changed["plan"],
    }


# -- the growth curve ------------------------------------------------------------------------------

def one_team(dest: Path, tables: int, seed: int = 1, per_task: int = 1250) -> tuple[Path, str]:
    """One team of `tables` tables: one source, ⌈tables / per_task⌉ tasks of equal size, each in its own
    task stack (a team that large does not fit one stack: E303/E304). Returns (tree, team name)."""
    generate(dest, 1, 1, 1, seed)
    tasks = max(1, math.ceil(tables / per_task))
    doc = team_doc(0, 1, 1, random.Random(f"{seed}/0"))
    (source, src), (instance, inst) = next(iter(doc["sources"].items())), next(iter(doc["instances"].items()))
    doc["sources"], doc["instances"] = {source: src}, {instance: inst}
    size = [tables // tasks + (1 if i < tables % tasks else 0) for i in range(tasks)]
    first = 0
    doc["tasks"] = {}
    for i, n in enumerate(size):
        rows = [{"schema": "app", "table": f"t{first + k:05d}", "version": "v202401010000"} for k in range(n)]
        first += n
        doc["tasks"][f"part-{i + 1}"] = {"source": source, "instance": instance, "target": "s3-10min",
                                         "migration_type": "full-load-and-cdc", "stack": f"part-{i + 1}",
                                         "tables": rows}
    (dest / "teams").joinpath(f"{doc['team']}.yaml").write_text(dump(doc))
    return dest, doc["team"]


fitted_slope = slope  # one least-squares log-log fit for every growth curve (bench_compile.slope)


def growth_summary(points: list[dict], x: str) -> dict:
    return {
        "points": points,
        "slope_cpu": fitted_slope([(p[x], p["cpu_seconds"]) for p in points]),
        "slope_calls": fitted_slope([(p[x], p["calls"]) for p in points]),
        "slope_bound": fitted_slope([(p[x], p["lower_bound"]) for p in points]),
    }


def growth_point(entry: dict, **size) -> dict:
    p = entry["plan"] if "plan" in entry and "total" in entry["plan"] else entry
    return {**size, "calls": p["total"], "lower_bound": p["lower_bound_total"], "cpu_seconds": p["cpu_seconds"],
            "seconds": p["seconds"], "go": p["plan"]["go"], "nochange_has_changes": p["nochange_has_changes"]}
