"""What a conformance check runs against: a boto3 session, an endpoint URL (None for AWS), the scratch
infrastructure (replication instance, endpoints, bucket) and a way to let time pass.

The checks use nothing else, so the same code runs on the sandbox (sim clock, advanced by `pause`) and
on a real account (`pause` sleeps). Everything a check creates is registered with `Cleanup`, which
deletes it at teardown, also when the check failed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

SMALL_TABLE_ROWS = 1_000  # sandbox: 20 sim seconds of full load
LARGE_TABLE_ROWS = 1_000_000  # sandbox: long enough to be stopped in the middle of its load


@dataclass(frozen=True)
class Source:
    """The source database the tasks read: its CreateEndpoint parameters and the tables the checks select.

    `tables` are at least two small tables of `schema`; `large_table` is one whose full load takes minutes
    (None: the checks that stop a task in the middle of a full load are skipped)."""

    endpoint: dict[str, Any]
    schema: str
    tables: tuple[str, str]
    large_table: str | None
    reachable: bool  # False: a placeholder endpoint; checks that start a task are skipped


@dataclass(frozen=True)
class Infra:
    instance_arn: str
    instance_id: str
    source_arn: str  # connection tested successfully with the instance
    target_arn: str  # S3 target, connection tested successfully with the instance
    bucket: str
    bucket_folder: str
    s3_role_arn: str


class Cleanup:
    """Finalizers run in reverse order at teardown; one failing does not stop the others. What could not be
    deleted is reported by name, so it can be deleted by hand."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, step: Callable[[], None]) -> None:
        self._steps.append((what, step))

    def run(self) -> list[str]:
        left: list[str] = []
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - every finalizer must run; failures are reported
                left.append(f"{what}: {type(exc).__name__}: {exc}")
        return left


@dataclass(frozen=True)
class Account:
    """One target of the checks. `where` is "sandbox" or "aws"."""

    where: str
    session: boto3.Session
    endpoint_url: str | None
    infra: Infra
    source: Source
    pause: Callable[[float], None]  # let this many seconds pass (sim seconds on the sandbox)
    poll_seconds: float
    name_prefix: str
    cleanup: Cleanup
    declare_task: Callable[[str], None] = lambda task_id: None  # sandbox: the source's tables for this task
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self.clients[service]

    def name(self, what: str) -> str:
        """A fresh resource name inside the scratch prefix (DMS identifiers: letters, digits, hyphens)."""
        return f"{self.name_prefix}-{what}-{secrets.token_hex(3)}"

    def require_source(self) -> None:
        """Skip a check that starts a task when there is no reachable source (--aws without a source)."""
        if not self.source.reachable:
            pytest.skip("needs a reachable source database: pass --aws-source-endpoint-json "
                        "(docs/ASSUMPTIONS.md, 'Checking the assumptions against a real account')")

    def require_large_table(self) -> str:
        self.require_source()
        if not self.source.large_table:
            pytest.skip("needs a source table whose full load takes minutes: set large_table in "
                        "--aws-source-endpoint-json")
        return self.source.large_table

    def wait_until(self, what: str, probe: Callable[[], Any], done: Callable[[Any], bool],
                   limit_seconds: float) -> Any:
        return wait_until(self.pause, self.poll_seconds, what, probe, done, limit_seconds)


def wait_until(pause: Callable[[float], None], poll_seconds: float, what: str, probe: Callable[[], Any],
               done: Callable[[Any], bool], limit_seconds: float) -> Any:
    """Poll `probe` until `done(result)`; AssertionError naming `what` and the last result after
    `limit_seconds` (sim seconds on the sandbox, real ones on AWS)."""
    waited = 0.0
    while not done(result := probe()):
        if waited >= limit_seconds:
            raise AssertionError(f"waited {limit_seconds:.0f} s for {what}; last seen: {result!r}")
        pause(poll_seconds)
        waited += poll_seconds
    return result
