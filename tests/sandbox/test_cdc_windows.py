"""CDC windows for scheduled/incremental runs (docs/WORKFLOWS.md): the source change feed, start and
stop positions, checkpoints, batches, statistics, CDC files and mid-run failures.

Sources: DMS API StartReplicationTask (StartReplicationTaskType per migration type; CdcStartPosition
date/checkpoint formats; CdcStartPosition and CdcStartTime together is an error; "for a cdc only task,
to start from a specific position, you must use start-replication"), ReplicationTask (RecoveryCheckpoint
can be given as CdcStartPosition; StopReason values), "Using Amazon S3 as a target" (CDC files named by
timestamp). Assumptions: A10, A14, A16, A22-A26 in docs/ASSUMPTIONS.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.exceptions
import pytest

from dmsctl.sandbox.dms.positions import checkpoint_at, parse_checkpoint

from . import helpers as h
from . import templates as t

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # the sandbox clock's start


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return f"{at(minutes):%Y-%m-%dT%H:%M:%S}"


def server_time(minutes: float) -> str:
    return f"server_time:{stamp(minutes)}"


def deploy(sb, tasks: dict[str, str], migration_type: str) -> None:
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template(tasks, migration_type=migration_type)
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    h.connect_all(sb)


@pytest.fixture
def cdc(sandbox):
    """A cdc task ``team-a-cdc`` on app.users and app.orders, source endpoint ``team-a-source``."""
    deploy(sandbox, {"team-a-cdc": t.mappings("app.users", "app.orders")}, "cdc")
    return "team-a-cdc"


def _code(err) -> str:
    return err.value.response["Error"]["Code"]


def _counts(sb, task_id: str) -> dict[str, tuple[int, int, int]]:
    return {k: (s["Inserts"], s["Updates"], s["Deletes"]) for k, s in h.table_stats(sb, task_id).items()}


def _cdc_keys(sb, prefix: str) -> list[str]:
    return [k for k in sb.s3_keys(t.BUCKET, prefix) if "LOAD" not in k]


def test_cdc_window_applies_recorded_changes_between_start_and_stop(sandbox, cdc):
    sandbox.clock.set_time(at(150))
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=at(10))  # before the window
    sandbox.record_changes("team-a-source", "app", "users", inserts=5, at=at(30))
    sandbox.record_changes("team-a-source", "app", "users", inserts=7, updates=2, at=at(90))
    sandbox.record_changes("team-a-source", "app", "orders", deletes=3, ddls=1, at=at(45))
    sandbox.record_changes("team-a-source", "app", "users", inserts=4, at=at(121))  # after the window
    sandbox.record_changes("team-a-source", "app", "invoices", inserts=9, at=at(50))  # not selected

    h.start(sandbox, cdc, CdcStartPosition=stamp(20), CdcStopPosition=server_time(120))
    stopped = h.wait_status(sandbox, cdc, "stopped")
    assert stopped["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert parse_checkpoint(stopped["RecoveryCheckpoint"]) == at(120)
    assert _counts(sandbox, cdc) == {"app.users": (12, 2, 0), "app.orders": (0, 0, 3)}
    orders = h.table_stats(sandbox, cdc)["app.orders"]
    assert orders["Ddls"] == orders["AppliedDdls"] == 1 and orders["AppliedDeletes"] == 3
    [users_file] = _cdc_keys(sandbox, "raw/data/users_v1/")
    assert users_file.rsplit("/", 1)[1].startswith(f"{sandbox.clock.now():%Y%m%d}-")
    body = sandbox.client("s3").get_object(Bucket=t.BUCKET, Key=users_file)["Body"].read().decode()
    assert "12 inserts, 2 updates, 0 deletes" in body
    assert len(_cdc_keys(sandbox, "raw/data/orders_v1/")) == 1

    # the next window starts at the checkpoint; statistics count from this start only (A24)
    sandbox.clock.set_time(at(200))
    h.start(sandbox, cdc, CdcStartPosition=stopped["RecoveryCheckpoint"], CdcStopPosition=server_time(180))
    second = h.wait_status(sandbox, cdc, "stopped")
    assert second["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert parse_checkpoint(second["RecoveryCheckpoint"]) == at(180)
    assert _counts(sandbox, cdc) == {"app.users": (4, 0, 0), "app.orders": (0, 0, 0)}
    assert len(_cdc_keys(sandbox, "raw/data/users_v1/")) == 2
    assert len(_cdc_keys(sandbox, "raw/data/orders_v1/")) == 1  # no changes, no file
    assert sandbox.overwrites == []


def test_cdc_start_time_and_first_run_without_position(sandbox, cdc):
    sandbox.record_changes("team-a-source", "app", "users", inserts=2, at=at(0))
    sandbox.clock.set_time(at(60))
    h.start(sandbox, cdc, CdcStartTime=at(0) - timedelta(seconds=1), CdcStopPosition=server_time(30))
    assert h.wait_status(sandbox, cdc, "stopped")["CdcStartPosition"] == "2023-12-31T23:59:59"
    assert _counts(sandbox, cdc)["app.users"] == (2, 0, 0)
    # restart (start-replication again: documented for cdc tasks) with no position: the task's stored
    # CdcStartPosition applies again (statistics count from this start: the same 2 inserts)
    h.start(sandbox, cdc, CdcStopPosition=server_time(61))
    h.wait_status(sandbox, cdc, "stopped")
    assert _counts(sandbox, cdc)["app.users"] == (2, 0, 0)


def test_changes_belong_to_the_source_endpoint(sandbox):
    deploy(sandbox, {"cdc-a": t.mappings("app.users"),
                     "cdc-b": t.mappings("app.users", versions={"app.users": "v2"})}, "cdc")
    source_arn = h.task(sandbox, "cdc-a")["SourceEndpointArn"]
    sandbox.clock.set_time(at(10))
    sandbox.record_changes(source_arn, "app", "users", inserts=3, at=at(5))  # by ARN
    sandbox.record_changes("team-a-source", "app", "users", updates=1, at=at(6))  # by identifier
    sandbox.record_changes("other-source", "app", "users", inserts=100, at=at(7))
    for task_id in ("cdc-a", "cdc-b"):
        h.start(sandbox, task_id, CdcStartPosition=stamp(0), CdcStopPosition=server_time(10))
    for task_id in ("cdc-a", "cdc-b"):
        h.wait_status(sandbox, task_id, "stopped")
        assert _counts(sandbox, task_id) == {"app.users": (3, 1, 0)}
    assert len(_cdc_keys(sandbox, "raw/data/users_v1/")) == len(_cdc_keys(sandbox, "raw/data/users_v2/")) == 1


def test_full_load_and_cdc_captures_from_full_load_start_then_resumes_from_checkpoint(sandbox, deployed):
    sandbox.record_changes("team-a-source", "app", "users", inserts=50, at=at(0))  # in the full load already
    sandbox.clock.set_time(at(1))
    h.start(sandbox, "team-a-app", CdcStopPosition=server_time(60))  # running at 1:10, full load 20 s
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=at(80 / 60))  # while users loads
    sandbox.record_changes("team-a-source", "app", "orders", updates=2, at=at(40))
    first = h.wait_status(sandbox, "team-a-app", "stopped", step=60)
    assert first["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert first["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert _counts(sandbox, "team-a-app") == {"app.users": (1, 0, 0), "app.orders": (0, 2, 0)}
    assert parse_checkpoint(first["RecoveryCheckpoint"]) == at(60)

    sandbox.record_changes("team-a-source", "app", "users", deletes=4, at=at(70))
    sandbox.clock.set_time(at(130))
    h.start(sandbox, "team-a-app", "resume-processing", CdcStopPosition=server_time(120))
    second = h.wait_status(sandbox, "team-a-app", "stopped")
    assert second["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert _counts(sandbox, "team-a-app") == {"app.users": (0, 0, 4), "app.orders": (0, 0, 0)}
    stats = h.table_stats(sandbox, "team-a-app")
    assert all(s["FullLoadRows"] == 1000 and not s["FullLoadReloaded"] for s in stats.values())  # no reload
    assert sandbox.overwrites == []


def test_stop_position_takes_effect_after_the_full_load(sandbox, deployed):
    """A25: a stop position that passes during the full load stops the task once the load is complete."""
    sandbox.set_table_size("team-a-app", "app", "orders", 50_000)  # 1000 s
    h.start(sandbox, "team-a-app", CdcStopPosition=server_time(0))
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(600)
    assert h.task(sandbox, "team-a-app")["Status"] == "running"
    stopped = h.wait_status(sandbox, "team-a-app", "stopped", step=60)
    assert stopped["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert {s["TableState"] for s in h.table_stats(sandbox, "team-a-app").values()} == {"Table completed"}
    assert "raw/data/orders_v1/LOAD00000001.csv" in sandbox.s3_keys(t.BUCKET)


def test_failure_at_a_time_keeps_the_checkpoint_of_the_last_batch(sandbox, cdc):
    h.start(sandbox, cdc, CdcStartPosition=stamp(0))
    started = h.wait_status(sandbox, cdc, "running", step=1)["ReplicationTaskStartDate"]
    origin = started + timedelta(seconds=sandbox.config.task_start_seconds)  # when it entered running
    batch = timedelta(seconds=600)  # CdcMaxBatchInterval of the base template's endpoint
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=origin + timedelta(seconds=100))
    sandbox.record_changes("team-a-source", "app", "users", inserts=10, at=origin + timedelta(seconds=700))
    sandbox.record_changes("team-a-source", "app", "users", inserts=100, at=origin + timedelta(seconds=1300))
    sandbox.faults.fail_task(cdc, "Last Error Stream Component Fatal error", at=origin + timedelta(seconds=1000))
    sandbox.clock.set_time(origin + timedelta(seconds=1100))
    failed = h.task(sandbox, cdc)
    assert failed["Status"] == "failed" and failed["StopReason"] == "Stop Reason FATAL_ERROR"
    assert failed["LastFailureMessage"] == "Last Error Stream Component Fatal error"
    assert parse_checkpoint(failed["RecoveryCheckpoint"]) == origin + batch
    assert _counts(sandbox, cdc)["app.users"] == (1, 0, 0)
    assert len(_cdc_keys(sandbox, "raw/data/users_v1/")) == 1

    # a rerun from the last good checkpoint covers the failed window: no gap
    sandbox.clock.set_time(origin + timedelta(seconds=1500))
    h.start(sandbox, cdc, CdcStartPosition=failed["RecoveryCheckpoint"],
            CdcStopPosition=f"server_time:{origin + timedelta(seconds=1400):%Y-%m-%dT%H:%M:%S}")
    h.wait_status(sandbox, cdc, "stopped")
    assert _counts(sandbox, cdc)["app.users"] == (110, 0, 0)
    # a rerun from further back applies the changes again (duplicates, never gaps)
    h.start(sandbox, cdc, CdcStartPosition=stamp(0))
    h.wait_status(sandbox, cdc, "stopped")
    assert _counts(sandbox, cdc)["app.users"] == (111, 0, 0)
    assert sandbox.overwrites == []


def test_resume_after_failure_starts_at_the_task_checkpoint(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(1300)  # batches at +600 and +1200 after running
    checkpoint = h.task(sandbox, "team-a-app")["RecoveryCheckpoint"]
    sandbox.record_changes("team-a-source", "app", "users", inserts=6, at=parse_checkpoint(checkpoint)
                           + timedelta(seconds=30))
    sandbox.faults.fail_task("team-a-app")
    assert h.task(sandbox, "team-a-app")["RecoveryCheckpoint"] == checkpoint
    h.start(sandbox, "team-a-app", "resume-processing", CdcStopPosition=server_time(30))
    h.wait_status(sandbox, "team-a-app", "stopped")
    assert _counts(sandbox, "team-a-app")["app.users"] == (6, 0, 0)


@pytest.mark.parametrize(("migration_type", "start_type", "kwargs", "code"), [
    ("full-load", "start-replication", {"CdcStartPosition": "2024-01-01T00:00:00"},
     "InvalidParameterCombinationException"),
    ("full-load-and-cdc", "start-replication", {"CdcStartTime": T0}, "InvalidParameterCombinationException"),
    ("cdc", "start-replication", {"CdcStartPosition": "2024-01-01T00:00:00", "CdcStartTime": T0},
     "InvalidParameterValueException"),
    ("cdc", "start-replication", {"CdcStartPosition": "checkpoint:V1#27#mysql-bin-changelog.157832:1975#0#0#*#0#93"},
     "InvalidParameterValueException"),
    ("cdc", "start-replication", {"CdcStartPosition": "mysql-bin-changelog.000024:373"},
     "InvalidParameterValueException"),
    ("cdc", "start-replication", {"CdcStopPosition": "2024-01-01T00:00:00"}, "InvalidParameterValueException"),
])
def test_start_position_rules(sandbox, migration_type, start_type, kwargs, code):
    deploy(sandbox, {"task": t.mappings("app.users")}, migration_type)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, "task", start_type, **kwargs)
    assert _code(err) == code


def test_cdc_task_start_types(sandbox, cdc):
    h.start(sandbox, cdc, CdcStopPosition=server_time(1))
    h.wait_status(sandbox, cdc, "stopped")
    with pytest.raises(botocore.exceptions.ClientError) as err:  # documented: not valid for cdc
        h.start(sandbox, cdc, "reload-target")
    assert _code(err) == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as err:  # a position needs start-replication
        h.start(sandbox, cdc, "resume-processing", CdcStartPosition=checkpoint_at(T0, 1))
    assert _code(err) == "InvalidParameterCombinationException"
    assert h.start(sandbox, cdc, CdcStartPosition=checkpoint_at(T0, 1))["Status"] == "starting"


def test_a_user_stop_keeps_the_changes_after_the_last_batch_for_the_next_start(sandbox, cdc):
    h.start(sandbox, cdc)
    h.wait_status(sandbox, cdc, "running")
    sandbox.clock.advance(5)  # windows are (start, end]: a change at the start position itself is not in it
    sandbox.record_changes("team-a-source", "app", "orders", inserts=2, updates=1)
    sandbox.clock.advance(60)  # no batch yet (600 s)
    h.stop(sandbox, cdc)
    stopped = h.wait_status(sandbox, cdc, "stopped")
    assert stopped["StopReason"] == "Stop Reason NORMAL"
    assert _counts(sandbox, cdc)["app.orders"] == (0, 0, 0) and _cdc_keys(sandbox, "raw/data/orders_v1/") == []
    h.start(sandbox, cdc, "resume-processing", CdcStopPosition=server_time(5))  # from the checkpoint
    h.wait_status(sandbox, cdc, "stopped")
    assert _counts(sandbox, cdc)["app.orders"] == (2, 1, 0)
    assert len(_cdc_keys(sandbox, "raw/data/orders_v1/")) == 1


def test_scenario_records_changes(sandbox):
    deploy(sandbox, {"team-a-cdc": t.mappings("app.users")}, "cdc")
    sandbox.load_scenario({"changes": [{"endpoint": "team-a-source", "table": "app.users",
                                        "at": "2024-01-01T00:05:00Z", "inserts": 3, "deletes": 1}]})
    sandbox.clock.set_time(at(10))
    h.start(sandbox, "team-a-cdc", CdcStartPosition=stamp(0), CdcStopPosition=server_time(10))
    h.wait_status(sandbox, "team-a-cdc", "stopped")
    assert _counts(sandbox, "team-a-cdc") == {"app.users": (3, 0, 1)}


def test_a_batch_and_a_stop_position_at_the_same_moment_write_two_files(sandbox, cdc):
    origin = sandbox.clock.now() + timedelta(seconds=10)  # started now, running 10 s later
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=origin + timedelta(seconds=300))
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=origin + timedelta(seconds=602))
    stop_at = origin + timedelta(seconds=605)  # the batch ending at +600 and the stop are both written at +605
    h.start(sandbox, cdc, CdcStopPosition=f"server_time:{stop_at:%Y-%m-%dT%H:%M:%S}")
    sandbox.clock.advance(700)
    stopped = h.task(sandbox, cdc)
    assert stopped["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    assert _counts(sandbox, cdc)["app.users"] == (2, 0, 0)
    assert len(_cdc_keys(sandbox, "raw/data/users_v1/")) == 2
    assert sandbox.overwrites == []


def test_a_task_created_with_a_start_time_starts_there(sandbox, cdc):
    base = h.task(sandbox, cdc)
    sandbox.client("dms").create_replication_task(
        ReplicationTaskIdentifier="created-with-time", SourceEndpointArn=base["SourceEndpointArn"],
        TargetEndpointArn=base["TargetEndpointArn"], ReplicationInstanceArn=base["ReplicationInstanceArn"],
        MigrationType="cdc", TableMappings=t.mappings("app.users"), CdcStartTime=T0)
    assert h.wait_status(sandbox, "created-with-time", "ready")["CdcStartPosition"] == "2024-01-01T00:00:00"
    sandbox.record_changes("team-a-source", "app", "users", inserts=1, at=at(1))
    sandbox.clock.set_time(at(10))
    h.start(sandbox, "created-with-time", CdcStopPosition=server_time(5))
    h.wait_status(sandbox, "created-with-time", "stopped")
    assert _counts(sandbox, "created-with-time") == {"app.users": (1, 0, 0)}
