"""python -m benchmarks [--sizes 10,50,200] [--tables 50] [--quick] [--only apply] [--out results/latest.json]

Prints a Markdown summary, writes every number to JSON, exits 1 if a target fails (README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_apply, bench_compile, bench_plan, child, report
from benchmarks.generate import REPO, add_table, generate, team_name
from benchmarks.sandbox_proc import SandboxProcess, seed, use_fake_credentials
from dmsctl.compiler import naming
from dmsctl.compiler.build import compile_tree


def _args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10,50,200", help="team counts, comma-separated")
    p.add_argument("--tables", type=int, default=50, help="tables per team")
    p.add_argument("--tasks", type=int, default=3, help="tasks per team")
    p.add_argument("--quick", action="store_true", help="sizes 10 and 50 only (CI), no growth curve")
    p.add_argument("--growth-teams", default=",".join(map(str, bench_compile.GROWTH_TEAMS)),
                   help="team counts of the compile and plan growth curves (plan: sizes already measured are "
                        "reused); '' for none")
    p.add_argument("--growth-tables", default=",".join(map(str, bench_compile.GROWTH_TABLES)),
                   help="table counts of one team in the compile and plan growth curves; '' for none")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "latest.json"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (the median is reported)")
    p.add_argument(
        "--k", type=int, default=10, help="independent teams changed at once in the apply benchmark"
    )
    p.add_argument("--cfn-latency", type=float, default=45.0, help="simulated seconds per stack operation")
    p.add_argument(
        "--cfn-change-set",
        type=float,
        default=10.0,
        help="simulated seconds CloudFormation takes to compute a change set (ASSUMPTIONS A70)",
    )
    p.add_argument(
        "--clock-factor", type=float, default=2.0, help="sim seconds per real second during apply"
    )
    p.add_argument(
        "--only", choices=["apply"], default=None, help="run one part only (apply: the apply benchmark)"
    )
    p.add_argument(
        "--workdir", default=None, help="where generated trees go (default: a temporary directory)"
    )
    args = p.parse_args(argv)
    args.sizes = [10, 50] if args.quick else sorted(int(s) for s in args.sizes.split(","))
    teams = tuple(sorted(int(s) for s in args.growth_teams.split(",") if s.strip()))
    tables = tuple(sorted(int(s) for s in args.growth_tables.split(",") if s.strip()))
    # --quick: a short compile curve, no plan curve (it seeds the sandbox at every size)
    args.growth_teams, args.growth_tables = (teams[:3], tables[:2]) if args.quick else (teams, tables)
    args.plan_growth_teams, args.plan_growth_tables = ((), ()) if args.quick else (teams, tables)
    return args


def _meta(args) -> dict:
    mem = (
        next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
        if os.path.exists("/proc/meminfo")
        else 0
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip(),
        "machine": {
            "nproc": os.cpu_count(),
            "memory_gib": round(mem / 2**20, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "sizes": args.sizes,
        "tasks_per_team": args.tasks,
        "tables_per_team": args.tables,
        "seed": args.seed,
    }


def _size(proc: SandboxProcess, work: Path, n: int, args) -> dict:
    before_dir = generate(work / f"teams-{n}", n, args.tasks, args.tables, args.seed)
    after_dir = work / f"teams-{n}-changed"
    shutil.rmtree(after_dir, ignore_errors=True)
    shutil.copytree(before_dir, after_dir)
    team = team_name(n // 2)
    task = add_table(after_dir, team)
    say = lambda what: print(f"  {n} teams: {what}…", file=sys.stderr, flush=True)  # noqa: E731
    say("compile")
    entry = {
        "teams": n,
        "tasks_per_team": args.tasks,
        "tables_per_team": args.tables,
        "compile": child.run("compile", before_dir, args.repeat),
        "compile_warm": child.run("compile-warm", before_dir, after_dir, args.repeat),
    }
    say("cfn-lint")
    entry["lint"] = child.run("lint", before_dir, after_dir)
    before = compile_tree(before_dir, "staging")
    entry["tasks"], entry["tables"] = (
        len(before.tree.tasks()),
        sum(len(t.tables) for t in before.tree.tasks()),
    )
    say("seeding the sandbox")
    proc.reset()
    entry["setup"] = seed(proc.remote, before)
    say("plan")
    changed = naming.task_id(before.tree.resource_prefix, team, task)
    entry["plan"] = bench_plan.measure(proc.remote, before_dir, after_dir, changed, args.repeat)
    return entry


def _growth(proc: SandboxProcess, work: Path, args, measured: list[dict]) -> dict:
    """The plan growth curve: plan calls and CPU over team count (3 tasks x `--tables` each) and over the
    table count of one team, with log-log fitted slopes."""
    by_teams = {s["teams"]: s for s in measured}
    teams = []
    for n in args.plan_growth_teams:
        if n not in by_teams:
            print(f"  growth: {n} teams…", file=sys.stderr, flush=True)
            before_dir = generate(work / f"grow-{n}", n, args.tasks, args.tables, args.seed)
            after_dir = work / f"grow-{n}-changed"
            shutil.rmtree(after_dir, ignore_errors=True)
            shutil.copytree(before_dir, after_dir)
            team = team_name(n // 2)
            task = add_table(after_dir, team)
            before = compile_tree(before_dir, "staging")
            proc.reset()
            seed(proc.remote, before)
            changed = naming.task_id(before.tree.resource_prefix, team, task)
            by_teams[n] = {"plan": bench_plan.measure(proc.remote, before_dir, after_dir, changed, args.repeat)}
        teams.append(bench_plan.growth_point(by_teams[n]["plan"], teams=n))
    tables = []
    for n in args.plan_growth_tables:
        print(f"  growth: one team of {n} tables…", file=sys.stderr, flush=True)
        before_dir, team = bench_plan.one_team(work / f"one-{n}", n, args.seed)
        after_dir = work / f"one-{n}-changed"
        shutil.rmtree(after_dir, ignore_errors=True)
        shutil.copytree(before_dir, after_dir)
        task = add_table(after_dir, team)
        before = compile_tree(before_dir, "staging")
        proc.reset()
        seed(proc.remote, before)
        changed = naming.task_id(before.tree.resource_prefix, team, task)
        tables.append(bench_plan.growth_point(
            bench_plan.measure(proc.remote, before_dir, after_dir, changed, args.repeat), tables=n))
    return {"teams": bench_plan.growth_summary(teams, "teams") if teams else None,
            "tables": bench_plan.growth_summary(tables, "tables") if tables else None,
            "method": f"teams: {args.tasks} tasks and {args.tables} tables per team; tables: one team, tasks of "
                      "1,250 tables each in its own task stack; cpu: median process CPU of make_plan; slopes: "
                      "least squares of log(y) over log(x)"}


def main(argv=None) -> int:
    args = _args(argv)
    use_fake_credentials()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dmsctl-bench-") as tmp:
        work = Path(args.workdir or tmp)
        res: dict = {"meta": _meta(args), "sizes": []}
        if args.only is None:
            with SandboxProcess(clock_factor=None) as proc:
                for n in args.sizes:
                    res["sizes"].append(_size(proc, work, n, args))
                big = args.sizes[-1]
                print(f"  plan profile: {big} teams…", file=sys.stderr, flush=True)
                profile = child.run("plan-profile", proc.url, work / f"teams-{big}-changed")
                res["plan_profile"] = {"teams": big, **profile}
                res["memory"] = {
                    "teams": big,
                    "compile_mib": child.run("compile-memory", work / f"teams-{big}")["mib"],
                    "plan_mib": child.run("plan-memory", proc.url, work / f"teams-{big}-changed")["mib"],
                    "method": "tracemalloc peak of Python allocations, each in a fresh process",
                }
                res["growth"] = _growth(proc, work, args, res["sizes"])
            print("  compile growth, start-up, warm validate…", file=sys.stderr, flush=True)
            res["compile_growth"] = bench_compile.growth(work, args.growth_teams, args.growth_tables, args.seed,
                                                         args.repeat)
            res["startup"] = bench_compile.startup()
            res["warm_validate"] = bench_compile.warm_validate(REPO / "sandbox" / "scenarios" / "demo" / "current")
        print(f"  apply: {2 * args.k + 1} teams, k = {args.k}…", file=sys.stderr, flush=True)
        res["apply"] = bench_apply.measure(
            work, args.k, args.tasks, args.tables, args.seed, args.clock_factor, args.cfn_latency,
            args.cfn_change_set,
        )
    res["targets"] = report.targets(res)
    res["ok"] = all(t["pass"] for t in res["targets"])
    res["meta"]["total_seconds"] = round(time.perf_counter() - started, 1)
    res["meta"]["machine"]["load_average_at_end"] = list(os.getloadavg())
    print(report.markdown(res))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(
        f"\n{'all targets pass' if res['ok'] else 'TARGETS FAILED'}; results in {out} "
        f"({res['meta']['total_seconds']} s)"
    )
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
