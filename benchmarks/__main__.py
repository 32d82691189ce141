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

from benchmarks import bench_apply, bench_plan, child, report
from benchmarks.generate import REPO, add_table, generate, team_name
from benchmarks.sandbox_proc import SandboxProcess, seed, use_fake_credentials
from dmsctl.compiler import naming
from dmsctl.compiler.build import compile_tree


def _args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10,50,200", help="team counts, comma-separated")
    p.add_argument("--tables", type=int, default=50, help="tables per team")
    p.add_argument("--tasks", type=int, default=3, help="tasks per team")
    p.add_argument("--quick", action="store_true", help="sizes 10 and 50 only (CI)")
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
                res["memory"] = {
                    "teams": big,
                    "compile_mib": child.run("compile-memory", work / f"teams-{big}")["mib"],
                    "plan_mib": child.run("plan-memory", proc.url, work / f"teams-{big}-changed")["mib"],
                    "method": "tracemalloc peak of Python allocations, each in a fresh process",
                }
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
