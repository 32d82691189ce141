"""One finding type for what the compiler reports and what the plan checks, and pure formatters for it.

A Finding carries a stable code (docs/CODES.md), a severity, a message for a person and the place it is
about: a file, line and column (1-based) when it is about a config file (or `<template STACK>`, a
generated template), else the resource it is about (`team/task/schema.table`, a stack). An optional hint
says what to do; `acknowledged_by` names the flag that turned a plan check's error into a warning.

The formatters (text, json, github) are pure functions of a list of findings. The deployer imports this
module; it imports nothing of the deployer.
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
class Finding:
    code: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    severity: Severity = Severity.ERROR
    resource: str = ""  # what it is about when not a place in a file: team/task/schema.table, a stack
    hint: str = ""  # what to do about it, when the message does not say
    acknowledged_by: str = ""  # the flag that turned this error into a warning (plan checks)

    def __post_init__(self) -> None:
        if not isinstance(self.severity, Severity):  # "error" from a plan file or a plan check
            object.__setattr__(self, "severity", Severity(self.severity))

    @classmethod
    def at(cls, code: str, message: str, pos: Position | None, severity: Severity = Severity.ERROR) -> Finding:
        if pos is None:
            return cls(code=code, message=message, severity=severity)
        return cls(code=code, message=message, file=pos.file, line=pos.line, column=pos.column,
                   severity=severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def blocks(self) -> bool:
        """A plan check that makes the plan no-go."""
        return self.is_error

    @property
    def in_file(self) -> bool:
        """About a file one can open (not a generated template, not a resource)."""
        return bool(self.file) and not self.file.startswith("<")

    def sort_key(self) -> tuple:
        # Findings without a file (about the whole tree, or a resource) come last.
        return (self.file == "", self.file, self.line, self.column, self.resource, self.code, self.message)

    def location(self) -> str:
        """`file:line:col`, the resource, or "" when the finding is about nothing narrower than the tree."""
        if self.file:
            return str(Position(self.file, self.line, self.column))
        return self.resource

    def describe(self) -> str:
        """The message with its hint and acknowledgement: what every format shows."""
        text = self.message + (f"; {self.hint}" if self.hint else "")
        return text + (f" (acknowledged by {self.acknowledged_by})" if self.acknowledged_by else "")


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(set(findings), key=Finding.sort_key)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.is_error for f in findings)


def format_line(f: Finding) -> str:
    """`file:line:col CODE severity: message; hint`, the same line wherever a finding is shown."""
    where = f.location()
    return f"{where + ' ' if where else ''}{f.code} {f.severity.value}: {f.describe()}"


def counts(findings: Iterable[Finding]) -> str:
    found = list(findings)
    errors = sum(1 for f in found if f.is_error)
    warnings = sum(1 for f in found if f.severity is Severity.WARNING)
    return f"{errors} error(s), {warnings} warning(s)"


def format_text(findings: Iterable[Finding]) -> str:
    """One line per finding, sorted, with a closing count."""
    found = sort_findings(findings)
    return "\n".join([*(format_line(f) for f in found), counts(found)])


def as_json(f: Finding) -> dict[str, object]:
    row = asdict(f)
    row["severity"] = f.severity.value
    return row


def format_json(findings: Iterable[Finding]) -> str:
    """{"findings": [...], "errors": N, "warnings": N}; text as written (no \\u escapes)."""
    rows = [as_json(f) for f in sort_findings(findings)]
    return json.dumps({"findings": rows, "errors": sum(1 for r in rows if r["severity"] == "error"),
                       "warnings": sum(1 for r in rows if r["severity"] == "warning")},
                      indent=2, sort_keys=True, ensure_ascii=False)


# GitHub workflow commands: `::error file=F,line=L,col=C,title=T::message`. In the message `%`, CR and LF
# are written %25, %0D, %0A; in a property also `:` and `,` (%3A, %2C), so a value cannot end the command.
COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(findings: Iterable[Finding]) -> str:
    """One workflow command per finding (an annotation on the file and line in the pull request), then the
    count. A finding about a generated template or a resource names it in the message instead of a file."""
    found = sort_findings(findings)
    lines = []
    for f in found:
        props = []
        if f.in_file:
            props.append(f"file={escape_property(f.file)}")
            if f.line:
                props += [f"line={f.line}", f"col={f.column or 1}"]
        props.append(f"title={escape_property(f.code)}")
        where = "" if f.in_file or not f.location() else f"{f.location()}: "
        lines.append(f"::{COMMANDS[f.severity]} {','.join(props)}::{escape_data(where + f.describe())}")
    return "\n".join([*lines, counts(found)])


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
