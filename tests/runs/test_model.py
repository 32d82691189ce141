"""Run inputs without AWS: times, names, finding TEAM/TASK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.runs import RunRefused, RunResult, Schedule, TableCount, UnknownTask, find_task, iso, parse_time
from dmsctl.deployer.runs.model import server_time
from tests.runs.conftest import config_tree


@pytest.mark.parametrize("text", ["2026-11-01T06:00:00Z", "2026-11-01T06:00:00+00:00", "2026-11-01T07:00:00+01:00",
                                  "2026-11-01T06:00:00", "2026-11-01T06:00:00.750Z", " 2026-11-01T06:00:00z "])
def test_parse_time_is_utc_whole_seconds(text):
    assert parse_time(text) == datetime(2026, 11, 1, 6, tzinfo=UTC)


def test_parse_time_rejects_garbage_with_the_option_named():
    with pytest.raises(DmsctlError, match=r"--at: 'tomorrow' is not an ISO-8601 time"):
        parse_time("tomorrow")


def test_formats():
    when = datetime(2026, 11, 1, 6, 5, 4, tzinfo=UTC)
    assert iso(when) == "2026-11-01T06:05:04Z"
    assert server_time(when) == "server_time:2026-11-01T06:05:04"


def test_target_names_and_folders(tmp_path, monkeypatch):
    from tests.runs.conftest import RunWorld

    world = RunWorld(sandbox=None, root=tmp_path, monkeypatch=monkeypatch)
    export = world.target("orders-export")
    assert export.kind == "export" and export.schedule == Schedule("cron(0 2 * * ? *)", "dated")
    assert export.state_table == "dmsctl-state" and export.export_endpoint_id == "dmsctl-shop-orders-export-export"
    when = datetime(2024, 1, 2, 2, 0, 30, tzinfo=UTC)
    assert export.export_folder(when) == "replication/shop/export/orders-export/2024/01/02"
    stamped = world.target("orders-export", schedule=Schedule("rate(1 hour)", "timestamped"))
    assert stamped.export_folder(when) == "replication/shop/export/orders-export/2024/01/02/020030"
    cdc = world.target("payments-cdc")
    assert cdc.kind == "incremental" and cdc.cdc_start_time == "2024-01-01T00:00:00Z"
    assert world.target("audit").schedule is None


def test_find_task_errors_list_what_exists(tmp_path):
    cfg, _ = config_tree(tmp_path)
    result = compile_tree(cfg, "staging")
    assert find_task(result, "shop/audit").name == "audit"
    with pytest.raises(UnknownTask, match=r"no team 'food' in staging \(teams: shop\)"):
        find_task(result, "food/audit")
    with pytest.raises(UnknownTask, match=r"its tasks: audit, items-sync, orders-export, payments-cdc"):
        find_task(result, "shop/x")
    with pytest.raises(UnknownTask, match=r"'shop' is not TEAM/TASK.*shop/audit, shop/items-sync"):
        find_task(result, "shop")


def test_result_totals_and_dict():
    r = RunResult("r1", "t", "incremental", "succeeded", "2026-11-01T06:00:00Z",
                  tables=(TableCount("s", "a", "Table completed", 0, 1, 2, 3),
                          TableCount("s", "b", "Table completed", 5, 10, 0, 1)))
    assert r.ok and r.totals == {"full_load_rows": 5, "inserts": 11, "updates": 2, "deletes": 4}
    assert r.as_dict()["tables"][1]["table"] == "b" and r.as_dict()["totals"]["inserts"] == 11


def test_unscheduled_task_is_refused_with_what_to_do(tmp_path, monkeypatch):
    from dmsctl.deployer.runs import run_task
    from tests.runs.conftest import RunWorld

    world = RunWorld(sandbox=None, root=tmp_path, monkeypatch=monkeypatch)
    with pytest.raises(RunRefused, match=r"task shop/audit has no schedule.*Add `schedule:`.*teams/shop.yaml"):
        run_task(gw=None, target=world.target("audit"), at=datetime(2024, 1, 1, tzinfo=UTC))
