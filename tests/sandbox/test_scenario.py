"""The same scenario in-process and against the HTTP server, with the same assertions.

Covers the scenario format (deployer/sandbox/scenario.py), the control API (server mode)
and that a deployer-style flow behaves identically in both modes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import helpers as h

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
