"""Compile + validate time, cfn-lint time (cold cache, then warm after a one-team change), peak memory; the
compile growth curve (teams, tables of one team), `dmsctl --help` start-up and a warm `dmsctl validate`."""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter, workers_for


def _compiled_ok(config_dir: Path, linter: Linter | None = None):
    result = compile_tree(config_dir, "staging", linter)
    if result.tree is None:
        raise RuntimeError(f"{config_dir} does not compile: {[str(d) for d in result.diagnostics][:3]}")
    return result


def compile_time(config_dir: Path, repeat: int) -> dict:
    """First compile in this process (imports done; Jinja and the schemas still uncached) and the
    median of `repeat` more: read every file, schema + semantic checks, render every template."""
    times, cpu = [], []
    result = None
    for _ in range(repeat + 1):
        del result  # each run starts from the same heap, as a `dmsctl compile` process would
        t0, c0 = time.perf_counter(), time.process_time()
        result = _compiled_ok(config_dir)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result.ok, [str(d) for d in result.diagnostics if d.is_error][:3]
    return {
        "first_seconds": round(times[0], 3),
        "seconds": round(statistics.median(times[1:] or times), 3),
        "min_seconds": round(min(times[1:] or times), 3),
        "cpu_seconds": round(statistics.median(cpu[1:] or cpu), 3),
        "runs": [round(t, 3) for t in times[1:]],
        "stacks": len(result.tree.stacks),
        "template_bytes_max": max(len(s.body) for s in result.tree.stacks),
    }


def compile_warm_time(before: Path, after: Path, repeat: int) -> dict:
    """The compile of a pull request's CI run: the compile cache (compiler/cache.py) is the one the last
    compile of `before` left (restored from main), and one team changed (`after`'s files that differ).
    Per repetition: a fresh cache filled by compiling `before` at a fixed path (as a checkout is; its
    CPU is the cold-cache cost), then `after`'s changed files copied over it and the tree compiled again,
    timed. Also counts the entries that compile found (hits) and made anew (misses)."""
    import shutil

    from dmsctl.compiler.cache import CompileCache

    changed = [f.relative_to(after) for f in sorted(after.rglob("*.yaml"))
               if not (before / f.relative_to(after)).is_file()
               or (before / f.relative_to(after)).read_bytes() != f.read_bytes()]
    cold, cpu, times = [], [], []
    with tempfile.TemporaryDirectory(prefix="dmsctl-bench-compile-") as tmp:
        work = Path(tmp) / "configs"
        for i in range(repeat):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(before, work)
            folder = Path(tmp) / f"cache-{i}"
            c0 = time.process_time()
            compile_tree(work, "staging", cache=CompileCache(folder))
            cold.append(time.process_time() - c0)
            for rel in changed:
                shutil.copyfile(after / rel, work / rel)
            cache = CompileCache(folder)
            t0, c0 = time.perf_counter(), time.process_time()
            result = compile_tree(work, "staging", cache=cache)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if result.tree is None:
                raise RuntimeError(f"{after} does not compile: {[str(d) for d in result.diagnostics][:3]}")
    return {
        "cpu_seconds": round(statistics.median(cpu), 3),
        "seconds": round(statistics.median(times), 3),
        "cold_cache_cpu_seconds": round(statistics.median(cold), 3),
        "cpu_runs": [round(c, 3) for c in cpu],
        "changed_files": [str(r) for r in changed],
        "hits": cache.hits,
        "misses": cache.misses,
    }


def lint_time(before: Path, after: Path) -> dict:
    """cfn-lint every template with an empty cache, then the tree after a one-team change with the
    same cache: only templates whose content changed may be linted again (Linter counters)."""
    with tempfile.TemporaryDirectory(prefix="dmsctl-bench-lint-") as cache:
        cold = Linter(cache_dir=Path(cache))
        t0 = time.perf_counter()
        old = _compiled_ok(before, cold)
        cold_s = time.perf_counter() - t0
        warm = Linter(cache_dir=Path(cache))
        t0 = time.perf_counter()
        new = _compiled_ok(after, warm)
        warm_s = time.perf_counter() - t0
    old_bodies = {s.name: s.body for s in old.tree.stacks}
    changed = sum(1 for s in new.tree.stacks if old_bodies.get(s.name) != s.body)
    errors = [str(d) for d in (*old.diagnostics, *new.diagnostics) if d.is_error]
    return {
        "cold_seconds": round(cold_s, 2),
        "cold_linted": cold.linted,
        "cold_cached": cold.cached,
        "warm_seconds": round(warm_s, 2),
        "warm_linted": warm.linted,
        "warm_cached": warm.cached,
        "templates": len(new.tree.stacks),
        "workers": workers_for(cold.linted),  # processes the cold run linted with (os.cpu_count())
        "cores": os.cpu_count(),
        "changed_templates": changed,
        "lint_errors": len(errors),
        "first_errors": errors[:3],
    }


def peak_memory(fn) -> tuple[object, float]:
    """(fn(), peak MiB of Python allocations while it ran, measured with tracemalloc)."""
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, round(peak / 2**20, 1)


# --- growth, start-up and a warm validate -----------------------------------------------------------------

GROWTH_TEAMS = (1, 10, 50, 200, 500)  # teams of 3 tasks x 50 tables
GROWTH_TABLES = (1_000, 5_000, 10_000, 20_000)  # tables of one team
# tables per task on average (the generator's first task is up to 3x larger), each task in its own stack:
# every task stays under DMS's and CloudFormation's limits (E303/E304)
TABLES_PER_TASK_STACK = 400


def one_big_team(dest: Path, tables: int, seed: int) -> Path:
    """One team of `tables` tables, about 400 per task, each task in its own task stack (the way a team
    that large has to be split: E303/E304)."""
    import yaml

    from benchmarks.generate import generate

    tasks = max(1, -(-tables // TABLES_PER_TASK_STACK))
    root = generate(dest, 1, tasks=tasks, tables=tables, seed=seed)
    for path in sorted((root / "teams").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for n, task in enumerate(doc["tasks"].values()):
            task["stack"] = f"part{n}"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) over log(x): 1.0 is linear growth, 2.0 quadratic."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    var = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / var, 2) if var else None


def growth(work: Path, teams: tuple[int, ...], tables: tuple[int, ...], seed: int, repeat: int) -> dict:
    """Compile CPU seconds (fresh process, median of warm runs) as the tree grows in teams, and as one team
    grows in tables, with the fitted log-log slope of each curve."""
    from benchmarks import child
    from benchmarks.generate import generate

    by_teams = []
    for n in teams:
        tree = generate(work / f"growth-teams-{n}", n, tasks=3, tables=50, seed=seed)
        by_teams.append({"teams": n, "cpu_seconds": child.run("compile", tree, repeat)["cpu_seconds"]})
    by_tables = []
    for n in tables:
        tree = one_big_team(work / f"growth-tables-{n}", n, seed)
        by_tables.append({"tables": n, "cpu_seconds": child.run("compile", tree, repeat)["cpu_seconds"]})
    return {"teams": by_teams, "teams_slope": slope([(r["teams"], r["cpu_seconds"]) for r in by_teams]),
            "tables": by_tables, "tables_slope": slope([(r["tables"], r["cpu_seconds"]) for r in by_tables])}


def _child_cpu(cmd: list[str], runs: int, env: dict | None = None) -> float:
    """Mean CPU seconds (user + system) of `runs` runs of `cmd`, from the children's resource usage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs


def _dmsctl() -> list[str]:
    return [sys.executable, "-m", "dmsctl.deployer.cli"]


def startup(runs: int = 10) -> dict:
    """CPU of `dmsctl --help` next to `python -c "import click"` (the floor any click CLI pays)."""
    click_cpu = _child_cpu([sys.executable, "-c", "import click"], runs)
    help_cpu = _child_cpu([*_dmsctl(), "--help"], runs)
    return {"help_cpu_seconds": round(help_cpu, 3), "import_click_cpu_seconds": round(click_cpu, 3),
            "ratio": round(help_cpu / click_cpu, 2) if click_cpu else None, "runs": runs}


def warm_validate(config_dir: Path, runs: int = 5) -> dict:
    """CPU of `dmsctl validate` (every environment, cfn-lint on) once its lint cache is warm."""
    with tempfile.TemporaryDirectory(prefix="dmsctl-bench-cache-") as cache:
        env = {**os.environ, "DMSCTL_CACHE_DIR": cache}
        cmd = [*_dmsctl(), "--config-dir", str(config_dir), "validate"]
        code = subprocess.run(cmd, capture_output=True, env=env, check=False).returncode  # warms the cache
        cpu = _child_cpu(cmd, runs, env)
    return {"cpu_seconds": round(cpu, 3), "exit_code": code, "runs": runs, "config_dir": str(config_dir)}
