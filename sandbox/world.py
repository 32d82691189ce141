"""The sandbox's own state next to moto's backends: clock, faults, call log, DMS backends.

moto keeps its backends in module globals; the sandbox does the same with one ``World``
(replaced on every reset), so the in-process mock and the threaded HTTP server see the
same state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .calls import CallLog
from .clock import SimClock
from .config import SimConfig
from .dms.changes import ChangeFeed
from .faults import Faults

if TYPE_CHECKING:
    from .dms.backend import DmsBackend


@dataclass(frozen=True)
class Overwrite:
    """A write that would have replaced an existing S3 object (never performed)."""

    bucket: str
    key: str
    writer: str  # e.g. task ARN


@dataclass(frozen=True)
class Deletion:
    """An S3 object a task deleted (A65: a source TRUNCATE with HandleSourceTableTruncated true)."""

    bucket: str
    key: str
    writer: str  # task ARN


@dataclass(frozen=True)
class Delivery:
    """An SNS message for an http/https subscription: recorded, never sent (the sandbox is offline)."""

    topic_arn: str
    protocol: str
    endpoint: str
    subject: str | None
    message: str


@dataclass
class World:
    clock: SimClock = field(default_factory=SimClock)
    config: SimConfig = field(default_factory=SimConfig)
    faults: Faults = field(default_factory=Faults)
    calls: CallLog = field(default_factory=CallLog)
    overwrites: list[Overwrite] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    changes: ChangeFeed = field(default_factory=ChangeFeed)  # the source databases' change logs
    deliveries: list[Delivery] = field(default_factory=list)  # SNS http/https deliveries (A31)
    # source endpoint identifier (its database) -> logical replication slots that exist there (A39)
    slots: dict[str, set[str]] = field(default_factory=dict)
    # (task identifier, schema, table) -> rows in the source table
    table_sizes: dict[tuple[str, str, str], int] = field(default_factory=dict)
    dms: dict[tuple[str, str], DmsBackend] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def dms_backend(self, account_id: str, region: str) -> DmsBackend:
        from .dms.backend import DmsBackend

        key = (account_id, region)
        with self.lock:
            if key not in self.dms:
                self.dms[key] = DmsBackend(self, account_id, region)
            return self.dms[key]

    def source_endpoint_id(self, endpoint: str) -> str:
        """The identifier of a source endpoint given by identifier or ARN (an unknown ARN stays as given)."""
        if endpoint.startswith("arn:"):
            for backend in list(self.dms.values()):
                found = backend.endpoint_by_arn(endpoint)
                if found is not None:
                    return found.identifier
        return endpoint

    def has_slot(self, endpoint: str, slot: str) -> bool:
        return slot in self.slots.get(self.source_endpoint_id(endpoint), set())

    def table_rows(self, task_id: str, schema: str, table: str) -> int:
        return self.table_sizes.get((task_id, schema, table), self.config.default_table_rows)

    def sync(self) -> None:
        """Bring every simulated process up to the clock's ``now``."""
        with self.lock:
            for backend in list(self.dms.values()):
                backend.sync()


_current = World()


def current() -> World:
    return _current


def reset(world: World | None = None) -> World:
    global _current
    _current = world or World()
    return _current
