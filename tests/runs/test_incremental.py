"""Incremental runs (docs/WORKFLOWS.md "Incremental run") on the sandbox: CDC windows from checkpoints.

Source changes are recorded in the sandbox's change log (`record_changes`, ASSUMPTIONS A22) at given
sim times; the scheduler is played by moving the sim clock to the run time T before each run.
"""

from __future__ import annotations

import json
import time

import pytest

from dmsctl.deployer.lock import Lock
from dmsctl.deployer.runs import RunFailed, RunRefused, read_checkpoints, read_metrics, run_task
from dmsctl.sandbox.sandbox import Sandbox
from tests.runs.conftest import at

pytestmark = pytest.mark.skipif(not hasattr(Sandbox, "record_changes"),
                                reason="needs sandbox API Sandbox.record_changes(endpoint, schema, table, ...)")

CDC = "payments-cdc"
SYNC = "items-sync"
T1, T2, T3 = "2024-01-01T06:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T18:00:00Z"


def record(world, table: str, when: str, inserts: int = 0, updates: int = 0, deletes: int = 0) -> None:
    """Changes committed at the source behind the shop's source endpoint (one place for the sandbox API)."""
    world.sandbox.record_changes(f"{world.target(CDC).resource_prefix}-shop-src-db", "shop", table, inserts=inserts,
                                 updates=updates, deletes=deletes, at=at(when))


def run_at(world, name: str, when: str, clock: str | None = None, **kw):
    """The scheduler fires at `when` (or the run is started by hand at `clock`, before it)."""
    world.sandbox.clock.set_time(at(clock or when))
    return run_task(world.gateway(), world.target(name), at(when), world.progress(), **kw)


def counts(result) -> dict[str, tuple[int, int, int]]:
    return {t.name: (t.inserts, t.updates, t.deletes) for t in result.tables}


def stored(world, name: str = CDC):
    target = world.target(name)
    gw = world.gateway()
    return read_checkpoints(gw, target.state_table, target.task_id), read_metrics(gw, target.state_table,
                                                                                 target.task_id)


def test_three_runs_count_each_window_and_advance_the_checkpoint(world):
    windows = [
        (T1, [("payments", "2024-01-01T01:00:00Z", 10, 2, 0), ("payments", "2024-01-01T05:00:00Z", 5, 0, 1),
              ("refunds", "2024-01-01T03:00:00Z", 4, 0, 0)]),
        (T2, [("payments", "2024-01-01T07:00:00Z", 7, 0, 0), ("refunds", "2024-01-01T11:00:00Z", 0, 3, 3)]),
        (T3, [("payments", "2024-01-01T13:00:00Z", 1, 1, 1)]),
    ]
    expected = [{"shop.payments": (15, 2, 1), "shop.refunds": (4, 0, 0)},
                {"shop.payments": (7, 0, 0), "shop.refunds": (0, 3, 3)},
                {"shop.payments": (1, 1, 1), "shop.refunds": (0, 0, 0)}]
    previous, starts = None, ["2024-01-01T00:00:00Z", T1, T2]
    results = []
    for (when, changes), want, start in zip(windows, expected, starts, strict=True):
        for table, stamp, i, u, d in changes:
            record(world, table, stamp, i, u, d)
        result = run_at(world, CDC, when)
        assert result.ok and result.kind == "incremental" and result.start_type == "start-replication"
        assert (result.window_start, result.window_end) == (start, when)
        assert counts(result) == want
        assert result.checkpoint_before == previous and result.checkpoint_after not in (None, previous)
        previous = result.checkpoint_after
        results.append(result)

    log, metrics = stored(world)
    assert log.latest.checkpoint == results[-1].checkpoint_after and log.latest.window_end == T3
    assert [c.window_end for c in log.history] == [T3, T2, T1]
    assert [c.checkpoint for c in log.history] == [r.checkpoint_after for r in reversed(results)]
    assert [(m.run, m.window_start, m.window_end) for m in metrics] == \
        [(r.run_id, r.window_start, r.window_end) for r in reversed(results)]
    totals = {name: tuple(sum(m_t) for m_t in zip(*(w[name] for w in expected), strict=True))
              for name in ("shop.payments", "shop.refunds")}
    summed = {name: tuple(sum(getattr(t, k) for m in metrics for t in m.tables if t.name == name)
                          for k in ("inserts", "updates", "deletes")) for name in totals}
    assert summed == totals == {"shop.payments": (23, 3, 2), "shop.refunds": (4, 3, 3)}
    assert metrics[0].total("inserts") == 1 and metrics[2].total("inserts") == 19


def test_a_run_that_fails_midway_leaves_the_checkpoint_and_the_next_run_covers_its_window(world):
    first = run_at(world, CDC, T1)
    record(world, "payments", "2024-01-01T07:00:00Z", inserts=7)
    record(world, "payments", "2024-01-01T11:00:00Z", inserts=3)
    record(world, "refunds", "2024-01-01T08:00:00Z", updates=2)
    world.sandbox.faults.fail_task(world.task_id(CDC), "Lost connection to the source database",
                                   at=at("2024-01-01T10:00:00Z"))
    with pytest.raises(RunFailed, match=r"dmsctl-shop-payments-cdc failed before reaching "
                                        r"2024-01-01T12:00:00Z: Lost connection to the source database") as failed:
        run_at(world, CDC, T2, clock="2024-01-01T09:00:00Z")  # started by hand at 09:00; fails at 10:00
    assert failed.value.result.status == "failed" and failed.value.result.checkpoint_after is None
    log, metrics = stored(world)
    assert log.latest.checkpoint == first.checkpoint_after and [c.window_end for c in log.history] == [T1]
    assert [m.run for m in metrics] == [first.run_id]

    record(world, "payments", "2024-01-01T13:00:00Z", inserts=1)
    third = run_at(world, CDC, T3)
    assert third.ok and third.window_start == T1 and third.checkpoint_before == first.checkpoint_after
    assert counts(third) == {"shop.payments": (11, 0, 0), "shop.refunds": (0, 2, 0)}  # no gap
    log, metrics = stored(world)
    assert [c.window_end for c in log.history] == [T3, T1]
    assert [(m.window_start, m.window_end) for m in metrics] == [(T1, T3), ("2024-01-01T00:00:00Z", T1)]


def test_a_run_waits_for_its_window_end(world):
    record(world, "payments", "2024-01-01T05:30:00Z", inserts=2)
    result = run_at(world, CDC, T1, clock="2024-01-01T05:00:00Z")
    assert result.ok and counts(result)["shop.payments"] == (2, 0, 0)
    assert world.sandbox.clock.now() >= at(T1)


def test_full_load_and_cdc_first_run_loads_then_later_runs_resume(world):
    first = run_at(world, SYNC, T1)
    assert first.ok and first.start_type == "start-replication" and first.window_start is None
    assert {t.name: t.full_load_rows for t in first.tables} == {"shop.items": 1000}
    record(world, "items", "2024-01-01T08:00:00Z", inserts=4, deletes=1)
    second = run_at(world, SYNC, T2)
    assert second.ok and second.start_type == "resume-processing" and second.window_start == T1
    assert counts(second) == {"shop.items": (4, 0, 1)}
    _, metrics = stored(world, SYNC)
    assert [(m.window_start, m.total("inserts")) for m in metrics] == [(T1, 4), (None, 0)]


def test_a_run_time_not_after_the_last_window_end_is_refused(world):
    run_at(world, CDC, T1)
    mark = world.sandbox.calls.mark()
    with pytest.raises(RunRefused, match=r"already ran up to 2024-01-01T06:00:00Z"):
        run_task(world.gateway(), world.target(CDC), at(T1), world.progress())
    assert world.mutations_since(mark) == []


def test_a_cdc_task_without_checkpoint_or_cdc_start_time_is_refused(world):
    world.sandbox.clock.set_time(at(T1))
    with pytest.raises(RunRefused, match=r"no checkpoint yet and no cdc_start_time"):
        run_task(world.gateway(), world.target(CDC, cdc_start_time=None), at(T1), world.progress())


def test_lock_held_by_an_apply_refuses_the_run_and_an_expired_one_does_not(world):
    target = world.target(CDC)
    world.sandbox.clock.set_time(at(T1))
    Lock(world.gateway(), target.state_table, "staging").acquire("apply-1", "bob@ci")
    mark = world.sandbox.calls.mark()
    with pytest.raises(RunRefused, match=r"an apply holds the staging deploy lock \(run apply-1 by bob@ci"):
        run_task(world.gateway(), target, at(T1), world.progress())
    assert world.mutations_since(mark) == []
    later = time.time() + 7 * 3600  # the default lock TTL is 6 hours
    assert run_task(world.gateway(), target, at(T1), world.progress(), now=lambda: later).ok


def test_cli_run_then_metrics_and_checkpoints(world, dmsctl):
    record(world, "payments", "2024-01-01T02:00:00Z", inserts=3, updates=1)
    world.sandbox.clock.set_time(at(T1))
    result = dmsctl("run", "shop/payments-cdc", "--at", T1)
    assert result.exit_code == 0, result.output
    assert "Window 2024-01-01T00:00:00Z -> 2024-01-01T06:00:00Z (start-replication)" in result.stdout
    assert "checkpoint (none) -> checkpoint:" in result.stdout
    doc = json.loads(dmsctl("metrics", "shop/payments-cdc", "--format", "json").stdout)
    assert doc["runs"][0]["totals"] == {"inserts": 3, "updates": 1, "deletes": 0, "full_load_rows": 0}
    text = dmsctl("checkpoints", "shop/payments-cdc").stdout
    assert "latest" in text and T1 in text
