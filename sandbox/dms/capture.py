"""What a running task writes: LOAD files, and CDC batches read from the source's change log.

A mixin of ``ReplicationTask`` (task.py holds the status machine). CDC runs in batches
(ASSUMPTIONS A14, A23): the task reads the log from its start position; every batch interval
after it entered ``running`` (and when it stops) it applies the changes of each loaded table
since that table's last batch, writes them as one CDC file per table, counts them in the
table statistics and moves RecoveryCheckpoint to the end of the batch. A failure between
batches loses nothing: the changes after the checkpoint were neither counted nor written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..iam_rules import role_allows
from ..s3_output import OutputError, delete_table_files, join_key, write_object
from . import mappings
from .changes import Counts, synthetic
from .positions import checkpoint_at, parse_stop_position
from .tables import COMPLETED, TableRun

if TYPE_CHECKING:
    from .backend import DmsBackend


class CdcCapture:
    # provided by ReplicationTask
    backend: DmsBackend
    arn: str
    identifier: str
    status: str
    source_endpoint_arn: str
    target_endpoint_arn: str
    table_mappings: str
    task_settings: str
    cdc_stop_position: str | None
    tables: dict[Any, TableRun]
    recovery_checkpoint: str | None
    checkpoint_seq: int
    # set here
    cdc_position: datetime | None = None  # how far the source log has been applied
    batch_origin: datetime | None = None  # batches end at batch_origin + k * interval
    target_settings: dict[str, Any] | None = None  # S3 settings of the target as of the latest start

    def _fail(self, t: datetime, message: str) -> None: ...

    # --- batches -------------------------------------------------------------------------
    def _begin_capture(self, t: datetime, start: datetime | None) -> None:
        """The task entered ``running``: it reads the log from ``start`` (None: from now)."""
        position = start or t
        self.cdc_position, self.batch_origin = position, t
        for run in self.tables.values():
            run.cdc_from = position
        self._checkpoint(position)

    def _checkpoint(self, position: datetime) -> None:
        self.checkpoint_seq += 1
        self.recovery_checkpoint = checkpoint_at(position, self.checkpoint_seq)

    def _batch_interval(self) -> float:
        target = self.target_settings or {}
        interval = target.get("CdcMaxBatchInterval")
        return float(interval) if interval else self.backend.world.config.cdc_file_interval

    def _batch_end(self, t: datetime) -> datetime | None:
        assert self.batch_origin is not None
        interval = self._batch_interval()
        batches = int((t - self.batch_origin).total_seconds() // interval)
        return self.batch_origin + timedelta(seconds=batches * interval) if batches > 0 else None

    def _apply_cdc(self, t: datetime, flush: bool = False) -> None:
        """Apply the batches due at ``t`` (``flush``: everything up to ``t``, as on a stop) as one."""
        if self.status != "running" or self.cdc_position is None:
            return
        end = t if flush else self._batch_end(t)
        stop = parse_stop_position(self.cdc_stop_position)
        if end is not None and stop is not None:
            end = min(end, stop.at)
        if end is None or end <= self.cdc_position:
            return
        source = self.backend.endpoint_by_arn(self.source_endpoint_arn)
        source_id = source.identifier if source else self.source_endpoint_arn
        feed, rate = self.backend.world.changes, self.backend.world.config.cdc_rows_per_second
        described = feed.described(source_id)
        for run in self.tables.values():
            if run.state != COMPLETED or run.cdc_from is None or run.cdc_from >= end:
                continue
            counts = (feed.window(source_id, run.ref.schema, run.ref.table, run.cdc_from, end) if described
                      else synthetic(rate, run.cdc_from, end))
            if counts.truncates and self._truncates_target() and not self._truncate_target(run, t):
                run.cdc_from = end
                continue  # suspended (A77): none of the table's changes are applied any more
            if counts.inserts or counts.updates or counts.deletes or counts.ddls:
                try:
                    self._write_cdc_file(run, counts, run.cdc_from, end, t)
                except OutputError as exc:
                    self._fail(t, str(exc))
                    return
                run.apply_changes(counts, t)
            run.cdc_from = end
        self.cdc_position = end
        self._checkpoint(end)

    # --- S3 output -------------------------------------------------------------------------
    def _snapshot_target(self) -> None:
        endpoint = self.backend.endpoint_by_arn(self.target_endpoint_arn)
        if endpoint is None or endpoint.engine_name != "s3":
            self.target_settings = None
        else:
            self.target_settings = dict(endpoint.s3_settings or {})
            role = endpoint.properties.get("ServiceAccessRoleArn")  # CreateEndpoint takes it outside S3Settings too
            if role and not self.target_settings.get("ServiceAccessRoleArn"):
                self.target_settings["ServiceAccessRoleArn"] = role

    def _truncates_target(self) -> bool:
        """ChangeProcessingDdlHandlingPolicy.HandleSourceTableTruncated: truncate the target table when the source
        table is truncated (DMS default true; dmsctl compiles false)."""
        import json

        policy = json.loads(self.task_settings or "{}").get("ChangeProcessingDdlHandlingPolicy") or {}
        return bool(policy.get("HandleSourceTableTruncated", True))

    def _truncate_target(self, run: TableRun, t: datetime) -> bool:
        """A source TRUNCATE on an S3 target: the table's files and folder are removed (A65) when the endpoint's
        service access role may delete them; otherwise the table is suspended (A77). False when suspended."""
        target = self.target_settings
        if not target or not target.get("BucketName"):
            return True
        names = mappings.output_names(self.table_mappings, run.ref)
        prefix = join_key(target.get("BucketFolder", ""), names.schema, names.table) + "/"
        if not role_allows(target.get("ServiceAccessRoleArn"), "s3:DeleteObject",
                           f"arn:aws:s3:::{target['BucketName']}/{prefix}"):
            run.suspend(t)
            return False
        gone = set(delete_table_files(self.backend.world, self.backend.account_id, target["BucketName"], prefix,
                                      self.arn))
        run.output_paths[:] = [p for p in run.output_paths if p not in gone]
        return True

    def _write_output(self, run: TableRun, stem: str, t: datetime, body: str | None = None) -> None:
        target = self.target_settings
        if not target or not target.get("BucketName"):
            return
        if stem.startswith("LOAD") and run.rows == 0:
            return  # DMS creates a table's folder only if the source table is not empty (A64)
        names = mappings.output_names(self.table_mappings, run.ref)
        ext = "parquet" if str(target.get("DataFormat", "csv")).lower() == "parquet" else "csv"
        key = join_key(target.get("BucketFolder", ""), names.schema, names.table, f"{stem}.{ext}")
        text = body or f"# sandbox {stem} of {run.ref} at {t.isoformat()} by {self.identifier}\n"
        world = self.backend.world
        write_object(world, self.backend.account_id, target["BucketName"], key, text.encode(), self.arn)
        run.output_paths.append(key)

    def _write_cdc_file(self, run: TableRun, counts: Counts, start: datetime, end: datetime, t: datetime) -> None:
        # named by write time; two batches of one table at the same sim time (a batch, then a stop) get
        # distinct names 100 microseconds apart, as a real clock would have moved on
        last = run.last_cdc_file
        when = t if last is None or t > last else last + timedelta(microseconds=100)
        run.last_cdc_file = when
        stamp = f"{when:%Y%m%d-%H%M%S}{when.microsecond // 100:04d}"
        body = (f"# sandbox CDC of {run.ref} by {self.identifier}, log ({start.isoformat()}, {end.isoformat()}]: "
                f"{int(counts.inserts)} inserts, {int(counts.updates)} updates, {int(counts.deletes)} deletes, "
                f"{int(counts.ddls)} ddls\n")
        self._write_output(run, stamp, t, body)
