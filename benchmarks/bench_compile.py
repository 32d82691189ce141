"""Compile + validate time, cfn-lint time (cold cache, then warm after a one-team change), peak memory."""

from __future__ import annotations

import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter


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
