"""The same scenario in-process and against the HTTP server, with the same assertions.

Covers the scenario format (sandbox/scenario.py), the control API (server mode)
and that a deployer-style flow behaves identically in both modes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from . import helpers as h
from . import templates as t

SCENARIO = Path(__file__).parent / "scenarios" / "running.yaml"


@pytest.fixture(params=["in_process", "server"])
def any_sandbox(request):
    return request.getfixturevalue("sandbox" if request.param == "in_process" else "sandbox_server")


def test_running_scenario(any_sandbox):
    sb = any_sandbox
    sb.load_scenario(SCENARIO)
    assert sb.client("sts").get_caller_identity()["Account"] == "111122223333"
    assert h.task(sb, "team-a-app")["ReplicationTaskArn"].split(":")[4] == "111122223333"
    assert h.task(sb, "team-a-app")["Status"] == "running"
    stats = h.table_stats(sb, "team-a-app")
    assert stats["app.users"]["TableState"] == "Table completed"
    assert stats["app.users"]["FullLoadRows"] == 2000
    assert stats["app.orders"]["TableState"] == "Full load"
    assert "raw/data/legacy_v1/LOAD00000001.csv" in sb.s3_keys("datalake", "raw/data/")
    assert "raw/data/users_v1/LOAD00000001.csv" in sb.s3_keys("datalake", "raw/data/")
    assert sb.clock.now().isoformat() > "2024-03-01T08:00:00"

    # a careless deployer: stops the task while orders is mid full load
    sb.faults.throttle("dms", "StopReplicationTask", times=1)
    h.stop(sb, "team-a-app")
    h.wait_status(sb, "team-a-app", "stopped")
    assert sb.table_restarts("team-a-app", "app", "orders") == 1
    assert sb.table_restarts("team-a-app", "app", "users") == 0
    stops = sb.calls.find("dms", "StopReplicationTask")
    assert len(stops) == 2  # throttled once, retried by botocore
    assert stops[-1].params["ReplicationTaskArn"] == h.task(sb, "team-a-app")["ReplicationTaskArn"]
    assert sb.overwrites == []


def test_change_feed_and_timed_failure_in_both_modes(any_sandbox):
    """record_changes and fail_task(at=...) behave the same in-process and through the control API."""
    sb = any_sandbox
    assert h.create_stack(sb, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({"team-a-cdc": t.mappings("app.users")}, migration_type="cdc")
    assert h.create_stack(sb, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    start = sb.clock.now().replace(microsecond=0)
    sb.record_changes("team-a-source", "app", "users", inserts=3, updates=1, at=start + timedelta(seconds=30))
    sb.clock.advance(120)
    h.start(sb, "team-a-cdc", CdcStartPosition=f"{start:%Y-%m-%dT%H:%M:%S}",
            CdcStopPosition=f"server_time:{start + timedelta(seconds=60):%Y-%m-%dT%H:%M:%S}")
    stopped = h.wait_status(sb, "team-a-cdc", "stopped")
    assert stopped["StopReason"] == "Stop Reason STOPPED_AT_SERVER_TIME"
    stats = h.table_stats(sb, "team-a-cdc")["app.users"]
    assert (stats["Inserts"], stats["Updates"]) == (3, 1)

    sb.faults.fail_task("team-a-cdc", "Injected at a time", at=sb.clock.now() + timedelta(seconds=300))
    h.start(sb, "team-a-cdc", CdcStartPosition=stopped["RecoveryCheckpoint"],
            CdcStopPosition=f"server_time:{start + timedelta(days=1):%Y-%m-%dT%H:%M:%S}")
    h.wait_status(sb, "team-a-cdc", "running")
    sb.clock.advance(200)
    assert h.task(sb, "team-a-cdc")["Status"] == "running"
    sb.clock.advance(200)
    failed = h.task(sb, "team-a-cdc")
    assert (failed["Status"], failed["LastFailureMessage"]) == ("failed", "Injected at a time")
    assert failed["RecoveryCheckpoint"].split("#")[1] == stopped["RecoveryCheckpoint"].split("#")[1]  # same position
