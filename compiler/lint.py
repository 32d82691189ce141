"""cfn-lint every rendered template through its Python API; findings become Diagnostics.

Results are cached by content hash (template body + region + cfn-lint version) in a directory the
caller chooses, so only templates whose content changed are linted again. The cache is a pure
optimisation: a missing or corrupt cache entry just means linting again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dmsctl.compiler.diagnostics import Diagnostic, Severity

# Informational cfn-lint rules that do not apply to generated templates.
IGNORED_RULES = frozenset({"I3011", "I3013", "I3042", "W3005"})


@dataclass(frozen=True)
class LintFinding:
    rule: str
    level: str  # "error" | "warning" | "informational"
    message: str
    line: int
    path: str


def _cfnlint_version() -> str:
    from cfnlint.version import __version__
    return __version__


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


class Linter:
    def __init__(self, cache_dir: Path | None = None):
        self.cache_dir = cache_dir
        self.linted = 0  # templates actually linted (cache misses), for benchmarks
        self.cached = 0

    def _key(self, body: str, region: str) -> str:
        return hashlib.sha256(f"{_cfnlint_version()}\0{region}\0{body}".encode()).hexdigest()

    def findings(self, body: str, region: str) -> list[LintFinding]:
        key = self._key(body, region)
        entry = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if entry is not None and entry.is_file():
            try:
                rows = json.loads(entry.read_text())
                self.cached += 1
                return [LintFinding(**row) for row in rows]
            except (ValueError, TypeError):
                pass
        found = _run_cfnlint(body, region)
        self.linted += 1
        if entry is not None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_text(json.dumps([f.__dict__ for f in found], sort_keys=True))
        return found

    def lint(self, stack_name: str, body: str, region: str) -> list[Diagnostic]:
        diags = []
        for f in self.findings(body, region):
            severity = {"error": Severity.ERROR, "warning": Severity.WARNING}.get(f.level, Severity.INFO)
            code = "E302" if severity is Severity.ERROR else "W302"
            where = f" at {f.path}" if f.path else ""
            diags.append(Diagnostic(code, f"stack {stack_name}: cfn-lint {f.rule}{where}: {f.message}",
                                    file=f"<template {stack_name}>", line=f.line, severity=severity))
        return diags
