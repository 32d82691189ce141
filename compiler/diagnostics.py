"""One finding type for everything the compiler reports, and pure formatters for it.

A Diagnostic carries a stable code (documented in docs/CODES.md), a severity, a message for a
person, and the place it is about: file, line and column (1-based) when it is about a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):  # noqa: UP042 - str() of a member stays "Severity.ERROR"; StrEnum would change it
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, order=True)
class Position:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    severity: Severity = Severity.ERROR

    @classmethod
    def at(cls, code: str, message: str, pos: Position | None, severity: Severity = Severity.ERROR) -> Diagnostic:
        if pos is None:
            return cls(code=code, message=message, severity=severity)
        return cls(code=code, message=message, file=pos.file, line=pos.line, column=pos.column,
                   severity=severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        # Diagnostics without a file (about the whole tree) come last.
        return (self.file == "", self.file, self.line, self.column, self.code, self.message)

    def location(self) -> str:
        if not self.file:
            return "<config>"
        return str(Position(self.file, self.line, self.column))


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags), key=Diagnostic.sort_key)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


def format_text(diags: Iterable[Diagnostic]) -> str:
    """`file:line:col CODE severity: message`, one per line, sorted, with a closing count."""
    diags = sort_diagnostics(diags)
    lines = [f"{d.location()} {d.code} {d.severity.value}: {d.message}" for d in diags]
    errors = sum(1 for d in diags if d.is_error)
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def format_json(diags: Iterable[Diagnostic]) -> str:
    rows = []
    for d in sort_diagnostics(diags):
        row = asdict(d)
        row["severity"] = d.severity.value
        rows.append(row)
    return json.dumps({"diagnostics": rows, "errors": sum(1 for d in rows if d["severity"] == "error")},
                      indent=2, sort_keys=True)
