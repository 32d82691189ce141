"""The project's own exceptions. Each carries a message written for a person."""

from __future__ import annotations


class DmsctlError(Exception):
    """A failure to report to the user: message, non-zero exit, no traceback."""

    exit_code = 1


class ConfigError(DmsctlError):
    """The config tree has errors (diagnostics already printed)."""


class AwsError(DmsctlError):
    """An AWS call failed; `resource` names what it was about."""

    def __init__(self, message: str, *, operation: str = "", resource: str = "", code: str = ""):
        super().__init__(message)
        self.operation, self.resource, self.code = operation, resource, code


class ReadOnlyViolation(DmsctlError):
    """A mutating AWS call was attempted in plan (read-only) mode. Refused before sending."""
