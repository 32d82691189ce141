"""What each task change does to replication (the plan's impact labels), with row estimates.

Rows come from the table statistics the plan already reads (DescribeTableStatistics): a reload or a
full-reload replacement loads again what the table's current version holds, estimated as its
FullLoadRows + Inserts - Deletes. DMS reports no sizes in bytes, so the estimate is rows only.
Which tasks' statistics a plan reads is planner.needs_statistics. Pure: no AWS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from dmsctl.deployer import plan as P
from dmsctl.deployer.live import TableStat

Stats = dict[str, tuple[TableStat, ...]]


def rows_of(stat: TableStat) -> int:
    return max(0, stat.full_load_rows + stat.inserts - stat.deletes)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _tables(n: int) -> str:
    return f"{n} table" + ("" if n == 1 else "s")


def _estimate(keys: list[tuple[str, str]], stats: tuple[TableStat, ...] | None) -> tuple[int | None, str]:
    """(rows, text) for the tables `keys` of a task: rows None when DMS has statistics for none of them."""
    known = {(s.schema, s.table): rows_of(s) for s in stats or ()}
    found = [known[k] for k in keys if k in known]
    if not found:
        return None, "rows unknown: no table statistics"
    missing = len(keys) - len(found)
    text = _rows(sum(found)) + (f"; {missing} without statistics" if missing else "")
    return sum(found), text


def task_impact(task: P.TaskChange, stopped: set[str], stats: Stats) -> P.Impact:
    own = stats.get(task.identifier)
    if task.action == P.DELETE:
        return P.Impact(P.IMPACT_REMOVAL, "removal")
    if task.action == P.REPLACE:
        if task.keeps_checkpoint:
            return P.Impact(P.IMPACT_REPLACE_CHECKPOINT, "replacement (checkpoint hand-over)")
        if task.cdc_gap:
            return P.Impact(P.IMPACT_REPLACE_AFRESH,
                            "replacement (starts afresh: changes between the steps are not replicated)")
        keys = [(s.schema, s.table) for s in own or ()]
        rows, text = _estimate(keys, own) if keys else (None, "rows unknown: no table statistics")
        return P.Impact(P.IMPACT_REPLACE_RELOAD, f"replacement (full reload of {_tables(task.table_count)})",
                        task.table_count, rows, text)
    reloads = [(tc.schema, tc.table) for tc in task.tables if tc.kind == P.RELOAD]
    if reloads:
        rows, text = _estimate(reloads, own)
        return P.Impact(P.IMPACT_RELOAD, f"reload of {_tables(len(reloads))}", len(reloads), rows, text)
    if task.action == P.CREATE:
        return P.Impact(P.IMPACT_NEW, "new task")
    if task.run_change == P.PAUSE_TASK:
        return P.Impact(P.IMPACT_PAUSE, "paused (stopped until resumed)")
    if task.identifier in stopped:
        return P.Impact(P.IMPACT_STOP, "stopped for the deploy")
    if task.run_change == P.RESUME_TASK:
        return P.Impact(P.IMPACT_RESUME, "resumed (it was stopped)")
    return P.Impact(P.IMPACT_NONE, "no stop")


def with_impacts(changes: tuple[P.StackChange, ...], steps: tuple[P.Step, ...],
                 stats: Stats) -> tuple[P.StackChange, ...]:
    """Every changed task with its impact label (unchanged tasks keep none)."""
    stopped = {ident for step in steps for ss in step.stacks for ident in ss.stop}
    return tuple(dataclasses.replace(c, tasks=tuple(
        dataclasses.replace(t, impact=task_impact(t, stopped, stats)) if t.changed or t.identifier in stopped else t
        for t in c.tasks)) for c in changes)


def reload_counts(changes: Iterable[P.StackChange]) -> tuple[int, int, int]:
    """(tasks that load tables again, rows they load as far as known, tables without statistics)."""
    tasks = rows = unknown = 0
    for c in changes:
        for t in c.tasks:
            if t.impact is None or t.impact.kind not in (P.IMPACT_RELOAD, P.IMPACT_REPLACE_RELOAD):
                continue
            tasks += 1
            rows += t.impact.rows or 0
            if t.impact.rows is None:
                unknown += t.impact.tables
    return tasks, rows, unknown
