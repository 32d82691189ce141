"""The compiler's findings under their older names: a Diagnostic is a Finding (compiler/findings.py).

Kept so the compiler's modules read as before; new code imports dmsctl.compiler.findings.
"""

from __future__ import annotations

from dmsctl.compiler.findings import (
    Finding,
    Position,
    Severity,
    format_github,
    format_json,
    format_text,
    has_errors,
    sort_findings,
)

Diagnostic = Finding
sort_diagnostics = sort_findings

__all__ = ["Diagnostic", "Finding", "Position", "Severity", "format_github", "format_json", "format_text",
           "has_errors", "sort_diagnostics"]
