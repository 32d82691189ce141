"""The project's own exceptions. Each carries a message written for a person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `dmsctl --help` imports this module, and must not import the compiler
    from dmsctl.compiler.findings import Finding


class DmsctlError(Exception):
    """A failure to report to the user: message, non-zero exit, no traceback."""

    exit_code = 1


class ConfigError(DmsctlError):
    """The config tree has errors: `findings` says which (the error boundary shows them in the command's
    format, before the message)."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()):
        super().__init__(message)
        self.findings = tuple(findings)


class AwsError(DmsctlError):
    """An AWS call failed; `resource` names what it was about."""

    def __init__(self, message: str, *, operation: str = "", resource: str = "", code: str = ""):
        super().__init__(message)
        self.operation, self.resource, self.code = operation, resource, code


class ReadOnlyViolation(DmsctlError):
    """A mutating AWS call was attempted in plan (read-only) mode. Refused before sending."""
