"""Log of every AWS call the sandbox receives, so tests can assert what a deployer did."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Parameters worth keeping per call: enough to know *which* resource an operation touched (and, for a task
# start, from where to where).
KEY_PARAMS = (
    "ReplicationTaskArn",
    "ReplicationTaskIdentifier",
    "StartReplicationTaskType",
    "CdcStartTime",
    "CdcStartPosition",
    "CdcStopPosition",
    "EndpointArn",
    "ReplicationInstanceArn",
    "ResourceArn",
    "SubscriptionName",
    "StackName",
    "ChangeSetName",
    "ChangeSetType",
    "TemplateURL",
    "Bucket",
    "Key",
    "Prefix",
)

READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Head", "Validate", "Test")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None

    @property
    def mutating(self) -> bool:
        if self.operation == "TestConnection":
            return True
        return not self.operation.startswith(READ_ONLY_PREFIXES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "params": self.params,
            "at": self.at.isoformat() if self.at else None,
        }


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __iter__(self):
        with self._lock:
            return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    def find(self, service: str | None = None, operation: str | None = None, **params: Any) -> list[Call]:
        return [
            c
            for c in self
            if (service is None or c.service == service)
            and (operation is None or c.operation == operation)
            and all(c.params.get(k) == v for k, v in params.items())
        ]

    def mutating(self, service: str | None = None) -> list[Call]:
        return [c for c in self if c.mutating and (service is None or c.service == service)]

    def mark(self) -> int:
        """Position to pass to ``since`` later (calls made after this point)."""
        return len(self._calls)

    def since(self, mark: int) -> list[Call]:
        return list(self)[mark:]


def key_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in KEY_PARAMS if isinstance(params, dict) and k in params}
