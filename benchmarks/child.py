"""One measurement in a fresh process, like a real `dmsctl` run: `python -m benchmarks.child KIND ARG…`
prints its result as JSON. In the runner's own process, the heap it has built up (cfn-lint's
schemas, earlier trees, boto3) makes every garbage collection slower and inflates the times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(kind: str, *args) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", kind, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.child {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def _measure(kind: str, args: list[str]) -> dict:
    from benchmarks import bench_compile, bench_plan
    from dmsctl.compiler.build import compile_tree

    if kind == "compile":
        return bench_compile.compile_time(Path(args[0]), int(args[1]))
    if kind == "compile-warm":
        return bench_compile.compile_warm_time(Path(args[0]), Path(args[1]), int(args[2]))
    if kind == "lint":
        return bench_compile.lint_time(Path(args[0]), Path(args[1]))
    if kind == "plan":
        return bench_plan.plan_runs(args[0], Path(args[1]), int(args[2]))
    if kind == "plan-profile":
        return bench_plan.plan_profile(args[0], Path(args[1]))
    if kind == "compile-memory":
        return {"mib": bench_compile.peak_memory(lambda: compile_tree(Path(args[0]), "staging"))[1]}
    if kind == "plan-memory":
        result = compile_tree(Path(args[1]), "staging")
        return {"mib": bench_compile.peak_memory(lambda: bench_plan.plan_once(args[0], result))[1]}
    raise SystemExit(f"unknown measurement {kind!r}")


if __name__ == "__main__":
    from benchmarks.sandbox_proc import use_fake_credentials

    use_fake_credentials()
    print(json.dumps(_measure(sys.argv[1], sys.argv[2:])))
