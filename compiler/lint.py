"""cfn-lint every rendered template through its Python API; findings become Diagnostics.

Results are cached by content hash (template body + region + cfn-lint version) in a directory the
caller chooses, so only templates whose content changed are linted again. The cache is a pure
optimisation: a missing or corrupt cache entry just means linting again. The cfn-lint version comes
from the installed distribution's metadata: importing cfnlint (all of it, about a second) happens
only when a template is actually linted.

`Linter.lint_all` lints the cache misses of a whole tree in a pool of processes (one per core,
os.cpu_count()) when there are enough of them to pay for the workers' start-up; every template is
linted on its own either way, so the findings, and their order (the order of the templates), are the
same as one by one.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from dmsctl.compiler.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

# Informational cfn-lint rules that do not apply to generated templates.
IGNORED_RULES = frozenset({"I3011", "I3013", "I3042", "W3005"})


@dataclass(frozen=True)
class LintFinding:
    rule: str
    level: str  # "error" | "warning" | "informational"
    message: str
    line: int
    path: str


# A worker loads cfn-lint and its rules (1-2 s) before its first template (about 0.1 s each): below this many
# templates per worker the pool costs more than it saves.
TEMPLATES_PER_WORKER = 8


@cache
def _cfnlint_version() -> str:
    return metadata.version("cfn-lint")


@cache
def _runner(region: str):
    """One cfn-lint runner per region: building one loads every rule module (~0.6 s), so
    `cfnlint.api.lint`, which builds one per call, would pay that for every template."""
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(**ManualArgs(regions=[region], ignore_checks=sorted(IGNORED_RULES))))


def _run_cfnlint(body: str, region: str) -> list[LintFinding]:
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(body)  # what cfnlint.api.lint does, with a reused runner
    matches = errors or (list(_runner(region).validate_template(template)) if template is not None else [])
    out = []
    for m in matches:
        level = getattr(m.rule, "severity", "error")
        out.append(LintFinding(rule=m.rule.id, level=str(level).lower(), message=m.message,
                               line=m.linenumber, path="/".join(str(p) for p in getattr(m, "path", []) or [])))
    return out


def _lint_job(job: tuple[str, str]) -> list[LintFinding]:
    """One template in a pool worker (module level, so it pickles)."""
    return _run_cfnlint(*job)


def _start_method() -> BaseContext:
    """fork when this process runs no other thread (the workers start at once, and need no __main__ they
    can re-import); otherwise spawn, since forking a process that holds threads can copy a held lock."""
    from multiprocessing import get_all_start_methods, get_context

    if threading.active_count() == 1 and "fork" in get_all_start_methods():
        return get_context("fork")
    return get_context("spawn")


def workers_for(templates: int, cores: int | None = None) -> int:
    """Processes to lint `templates` with: one per core, no more than TEMPLATES_PER_WORKER can keep busy."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(cores, templates // TEMPLATES_PER_WORKER))


class Linter:
    def __init__(self, cache_dir: Path | None = None, workers: int | None = None):
        self.cache_dir = cache_dir
        self.workers = workers  # None: workers_for(cache misses); 1: always in this process
        self.linted = 0  # templates actually linted (cache misses), for benchmarks
        self.cached = 0

    def _key(self, body: str, region: str) -> str:
        return hashlib.sha256(f"{_cfnlint_version()}\0{region}\0{body}".encode()).hexdigest()

    def _entry(self, body: str, region: str) -> Path | None:
        return self.cache_dir / f"{self._key(body, region)}.json" if self.cache_dir else None

    def _cached(self, entry: Path | None) -> list[LintFinding] | None:
        if entry is None or not entry.is_file():
            return None
        try:
            found = [LintFinding(**row) for row in json.loads(entry.read_text())]
        except (ValueError, TypeError):
            return None
        self.cached += 1
        return found

    def _store(self, entry: Path | None, found: list[LintFinding]) -> None:
        self.linted += 1
        if entry is not None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_text(json.dumps([f.__dict__ for f in found], sort_keys=True))

    def findings(self, body: str, region: str) -> list[LintFinding]:
        entry = self._entry(body, region)
        found = self._cached(entry)
        if found is None:
            found = _run_cfnlint(body, region)
            self._store(entry, found)
        return found

    def findings_all(self, jobs: Sequence[tuple[str, str]]) -> list[list[LintFinding]]:
        """findings() of every (body, region), in order; the cache misses linted in parallel processes."""
        entries = [self._entry(body, region) for body, region in jobs]
        results = [self._cached(entry) for entry in entries]
        missing = [i for i, r in enumerate(results) if r is None]
        workers = self.workers if self.workers is not None else workers_for(len(missing))
        if workers > 1 and len(missing) > 1:
            from concurrent.futures import ProcessPoolExecutor  # imported only when a pool is needed

            with ProcessPoolExecutor(max_workers=min(workers, len(missing)), mp_context=_start_method()) as pool:
                chunk = max(1, len(missing) // (workers * 4))
                fresh = list(pool.map(_lint_job, [jobs[i] for i in missing], chunksize=chunk))
        else:
            fresh = [_run_cfnlint(*jobs[i]) for i in missing]
        for i, found in zip(missing, fresh, strict=True):
            self._store(entries[i], found)
            results[i] = found
        return [r if r is not None else [] for r in results]

    def lint(self, stack_name: str, body: str, region: str) -> list[Diagnostic]:
        return _diagnostics(stack_name, self.findings(body, region))

    def lint_all(self, stacks: Sequence[tuple[str, str]], region: str) -> list[Diagnostic]:
        """lint() of every (stack name, body), in order."""
        found = self.findings_all([(body, region) for _, body in stacks])
        return [d for (name, _), rows in zip(stacks, found, strict=True) for d in _diagnostics(name, rows)]


def _diagnostics(stack_name: str, findings: list[LintFinding]) -> list[Diagnostic]:
    diags = []
    for f in findings:
        severity = {"error": Severity.ERROR, "warning": Severity.WARNING}.get(f.level, Severity.INFO)
        code = "E302" if severity is Severity.ERROR else "W302"
        where = f" at {f.path}" if f.path else ""
        diags.append(Diagnostic(code, f"stack {stack_name}: cfn-lint {f.rule}{where}: {f.message}",
                                file=f"<template {stack_name}>", line=f.line, severity=severity))
    return diags
