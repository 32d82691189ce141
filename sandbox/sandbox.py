"""The object tests and the demo hold: one offline AWS account (in-process or behind HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from . import world as world_mod
from .calls import CallLog
from .clock import SimClock
from .config import SimConfig
from .dms.changes import Counts
from .dms.mappings import TableRef
from .faults import Faults
from .world import Deletion, Delivery, Overwrite, World

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class SandboxBase:
    """Helpers shared by the in-process and the remote sandbox (they only use AWS APIs)."""

    region: str
    account_id: str
    endpoint_url: str | None

    @property
    def credentials(self) -> dict[str, str]:
        return {**CREDENTIALS, "region_name": self.region}

    def boto_session(self) -> boto3.Session:
        return boto3.Session(**self.credentials)

    def client(self, service: str) -> Any:
        """A boto3 client for this account (cached per service, region and endpoint)."""
        cache = self.__dict__.setdefault("_clients", {})
        key = (service, self.region, self.endpoint_url, self.account_id)
        if key not in cache:
            cache[key] = self.boto_session().client(service, endpoint_url=self.endpoint_url)
        return cache[key]

    def s3_keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def put_s3_object(self, bucket: str, key: str, body: bytes | str = b"") -> None:
        s3 = self.client("s3")
        ensure_bucket(s3, bucket, self.region)
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def parse_when(value: datetime | str) -> datetime:
    """A sim time given as a datetime or ISO-8601 text; naive means UTC."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


class Sandbox(SandboxBase):
    """In-process sandbox: moto's ``mock_aws`` (or the threaded server) plus the sandbox world."""

    def __init__(self, world: World, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID,
                 endpoint_url: str | None = None) -> None:
        self.world = world
        self.region = region
        self.account_id = account_id
        self.endpoint_url = endpoint_url

    @property
    def clock(self) -> SimClock:
        return self.world.clock

    @property
    def faults(self) -> Faults:
        return self.world.faults

    @property
    def calls(self) -> CallLog:
        return self.world.calls

    @property
    def config(self) -> SimConfig:
        return self.world.config

    def configure(self, **changes: Any) -> SimConfig:
        self.world.config = dataclasses.replace(self.world.config, **changes)
        return self.world.config

    @property
    def overwrites(self) -> list[Overwrite]:
        self.world.sync()
        return list(self.world.overwrites)

    @property
    def deletions(self) -> list[Deletion]:
        """S3 objects a task deleted: only a source TRUNCATE under HandleSourceTableTruncated true (A65)."""
        self.world.sync()
        return list(self.world.deletions)

    @property
    def sns_deliveries(self) -> list[Delivery]:
        """Messages SNS would have POSTed to http/https subscribers (ASSUMPTIONS A31)."""
        return list(self.world.deliveries)

    def advance(self, seconds: float) -> None:
        self.world.clock.advance(seconds)
        self.world.sync()

    def set_table_size(self, task_id: str, schema: str, table: str, rows: int) -> None:
        with self.world.lock:
            self.world.table_sizes[(task_id, schema, table)] = rows

    def record_changes(self, endpoint: str, schema: str, table: str, *, inserts: int = 0, updates: int = 0,
                       deletes: int = 0, ddls: int = 0, truncates: int = 0,
                       at: datetime | str | None = None) -> None:
        """Changes committed to ``schema.table`` at the source database behind ``endpoint`` (a source endpoint
        identifier or ARN) at sim time ``at`` (default: now). Every task reading that endpoint applies them
        in its CDC phase (ASSUMPTIONS A22). ``truncates``: TRUNCATE TABLE statements (A65)."""
        when = parse_when(at) if at is not None else self.world.clock.now()
        with self.world.lock:
            self.world.sync()
            source = self.world.source_endpoint_id(endpoint)
            self.world.changes.record(source, schema, table, when, Counts(inserts, updates, deletes, ddls,
                                                                                 truncates))

    def create_slot(self, endpoint: str, slot: str) -> None:
        """A logical replication slot created at the source database behind ``endpoint`` (identifier or ARN),
        as `SELECT pg_create_logical_replication_slot(...)` would (ASSUMPTIONS A39)."""
        with self.world.lock:
            slots = self.world.slots.setdefault(self.world.source_endpoint_id(endpoint), set())
            if slot in slots:
                raise ValueError(f"replication slot \"{slot}\" already exists")
            slots.add(slot)

    def drop_slot(self, endpoint: str, slot: str) -> None:
        """`SELECT pg_drop_replication_slot(...)` at the source database behind ``endpoint``."""
        with self.world.lock:
            slots = self.world.slots.get(self.world.source_endpoint_id(endpoint), set())
            if slot not in slots:
                raise ValueError(f"replication slot \"{slot}\" does not exist")
            slots.discard(slot)

    def slots(self) -> dict[str, list[str]]:
        """Source endpoint identifier -> its replication slots."""
        with self.world.lock:
            return {ep: sorted(names) for ep, names in sorted(self.world.slots.items()) if names}

    def _task(self, task_id: str):
        self.world.sync()
        backend = self.world.dms_backend(self.account_id, self.region)
        task = backend.task_by_id(task_id)
        if task is None:
            raise KeyError(f"no replication task {task_id!r}")
        return task

    def table_restarts(self, task_id: str, schema: str, table: str) -> int:
        run = self._task(task_id).tables.get(TableRef(schema, table))
        return run.restarts if run else 0

    def tables(self, task_id: str) -> dict[str, dict[str, Any]]:
        """Sandbox-side view of a task's tables: state, restarts, output paths."""
        return {
            str(ref): {"state": run.state, "restarts": run.restarts, "rows": run.rows,
                       "outputs": list(run.output_paths)}
            for ref, run in self._task(task_id).tables.items()
        }

    def load_scenario(self, scenario: str | Path | dict[str, Any]) -> None:
        from .scenario import load_scenario

        load_scenario(self, scenario)


def new_world(clock: SimClock | None = None, config: SimConfig | None = None) -> World:
    return world_mod.reset(World(clock=clock or SimClock(), config=config or SimConfig()))
