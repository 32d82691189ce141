"""An S3 target: no folder for an empty table; a source TRUNCATE under the task's DDL handling settings.

Sources: DMS User Guide, "Using Amazon S3 as a target" ("For each source table that contains records, AWS
DMS creates a folder under the specified target folder (if the source table is not empty)"), "Task settings
for change processing DDL handling" (HandleSourceTableTruncated: truncate the target table when the source
table is truncated). Assumptions: A64, A65, A77 in docs/ASSUMPTIONS.md.
"""

from __future__ import annotations

import json
from datetime import timedelta

from . import helpers as h
from . import templates as t

TASK = "team-a-app"
USERS = "raw/data/users_v1/"


def _soon(sb):
    """A second from now: a CDC window is (start, end], so a change at its very start would not be in it."""
    return sb.clock.now() + timedelta(seconds=1)


def _deploy(sb, truncate: bool | None, deletes: bool = True) -> None:
    settings = None
    if truncate is not None:
        settings = json.dumps({"ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableTruncated": truncate}})
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template(deletes=deletes))) == "CREATE_COMPLETE"
    team = t.team_template({TASK: t.mappings("app.users", "app.orders")}, task_settings=settings)
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    h.connect_all(sb)


def _loaded_with_a_cdc_file(sb) -> list[str]:
    h.start(sb, TASK)
    h.wait_status(sb, TASK, "running")
    sb.record_changes("team-a-source", "app", "users", inserts=5, at=_soon(sb))
    sb.clock.advance(700)  # full loads done (20 s), one CDC batch (600 s)
    keys = sb.s3_keys(t.BUCKET, USERS)
    assert len(keys) == 2 and f"{USERS}LOAD00000001.csv" in keys
    return keys


def _truncate_then_batch(sb) -> None:
    sb.record_changes("team-a-source", "app", "users", truncates=1, at=_soon(sb))
    sb.record_changes("team-a-source", "app", "users", inserts=2, at=_soon(sb))
    sb.clock.advance(600)


def test_an_empty_table_gets_no_load_file(sandbox):
    _deploy(sandbox, None)
    sandbox.set_table_size(TASK, "app", "orders", 0)
    h.start(sandbox, TASK)
    h.wait_status(sandbox, TASK, "running")
    sandbox.clock.advance(60)
    stats = h.table_stats(sandbox, TASK)
    assert stats["app.orders"]["TableState"] == "Table completed" and stats["app.orders"]["FullLoadRows"] == 0
    assert sandbox.s3_keys(t.BUCKET, "raw/data/orders_v1/") == []
    assert sandbox.s3_keys(t.BUCKET, USERS) == [f"{USERS}LOAD00000001.csv"]


def test_a_truncate_with_the_compiled_setting_keeps_the_tables_files(sandbox):
    _deploy(sandbox, False)  # what dmsctl compiles (templates/task-settings.json)
    before = _loaded_with_a_cdc_file(sandbox)
    _truncate_then_batch(sandbox)
    keys = sandbox.s3_keys(t.BUCKET, USERS)
    assert set(before) < set(keys) and len(keys) == 3  # kept, plus the batch's CDC file
    assert sandbox.deletions == [] and sandbox.overwrites == []


def test_a_truncate_with_handle_source_table_truncated_removes_the_tables_files(sandbox):
    """The dangerous setting (E213 refuses it in a config): DMS empties the table's folder on the target."""
    _deploy(sandbox, True)
    before = _loaded_with_a_cdc_file(sandbox)
    _truncate_then_batch(sandbox)
    keys = sandbox.s3_keys(t.BUCKET, USERS)
    assert not set(before) & set(keys) and len(keys) == 1  # only the CDC file written after the truncate
    assert sorted(d.key for d in sandbox.deletions) == sorted(before)
    assert {d.writer for d in sandbox.deletions} == {h.task(sandbox, TASK)["ReplicationTaskArn"]}
    assert sandbox.s3_keys(t.BUCKET, "raw/data/orders_v1/")  # another table's files are untouched


def test_the_server_default_truncates_too(sandbox):
    """A task given no DDL handling policy has DMS's default, HandleSourceTableTruncated true."""
    _deploy(sandbox, None)
    _loaded_with_a_cdc_file(sandbox)
    _truncate_then_batch(sandbox)
    assert sandbox.deletions


def test_a_truncate_the_role_may_not_delete_suspends_the_table(sandbox):
    """HandleSourceTableTruncated true, but the endpoint's role has no s3:DeleteObject (as dmsctl's role): DMS
    cannot remove the files, so it suspends the table (Table error) and applies none of its changes any more;
    the other tables and the task go on."""
    _deploy(sandbox, True, deletes=False)
    before = _loaded_with_a_cdc_file(sandbox)
    _truncate_then_batch(sandbox)
    sandbox.record_changes("team-a-source", "app", "orders", inserts=3, at=_soon(sandbox))
    sandbox.record_changes("team-a-source", "app", "users", inserts=3, at=_soon(sandbox))
    sandbox.clock.advance(600)
    assert sandbox.s3_keys(t.BUCKET, USERS) == before and sandbox.deletions == []
    stats = h.table_stats(sandbox, TASK)
    assert stats["app.users"]["TableState"] == "Table error"
    assert stats["app.orders"]["TableState"] == "Table completed"
    assert len(sandbox.s3_keys(t.BUCKET, "raw/data/orders_v1/")) == 2  # its load file and the new batch
    task = h.task(sandbox, TASK)
    assert task["Status"] == "running" and task["ReplicationTaskStats"]["TablesErrored"] == 1
    h.stop(sandbox, TASK)  # resumed, the suspended table stays suspended
    h.wait_status(sandbox, TASK, "stopped")
    h.start(sandbox, TASK, "resume-processing")
    h.wait_status(sandbox, TASK, "running")
    assert h.table_stats(sandbox, TASK)["app.users"]["TableState"] == "Table error"
