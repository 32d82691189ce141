"""DMS's status names, in one place: every module that asks "is this task running?" or "is this table
loading?" asks here (DMS API Reference: ReplicationTask.Status, TableStatistics.TableState,
Connection.Status).
"""

from __future__ import annotations

from typing import Protocol

# ReplicationTask.Status
RUNNING = frozenset({"running", "starting"})
STARTABLE = frozenset({"ready", "stopped", "failed"})
# A task in one of these cannot be deployed over or started: it is busy, or broken.
BUSY = frozenset({"failed", "modifying", "moving", "stopping", "creating", "deleting"})
FULL_LOAD_ONLY_FINISHED = "FULL_LOAD_ONLY_FINISHED"  # in StopReason of a full-load task that completed

# TableStatistics.TableState in which stopping the task restarts the table's load from zero. "Table is
# being reloaded" is the state of a table reloaded by ReloadTables.
LOADING_TABLE_STATES = frozenset({"Before load", "Full load", "Table is being reloaded"})
TABLE_COMPLETED = "Table completed"
TABLE_ERROR = "Table error"  # suspended after an error: DMS applies none of the table's changes any more

# Connection.Status (DescribeConnections)
CONNECTION_TESTING = "testing"
CONNECTION_SUCCESSFUL = "successful"
CONNECTION_FAILED = "failed"


class _Status(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def stop_reason(self) -> str | None: ...


class _TableProgress(Protocol):
    @property
    def state(self) -> str: ...

    @property
    def full_load_rows(self) -> int: ...


def is_up(task: _Status) -> bool:
    """Running, or a full-load task that has finished its load (that is success, not failure)."""
    return task.status == "running" or (task.status == "stopped" and task.stop_reason is not None
                                        and FULL_LOAD_ONLY_FINISHED in task.stop_reason)


def interrupts_a_load(stat: _TableProgress) -> bool:
    """Would stopping the task lose load work of this table? A table still "Before load" with no row
    copied has lost nothing yet (it is queued behind others): stopping only delays it."""
    if stat.state == "Before load" and stat.full_load_rows == 0:
        return False
    return stat.state in LOADING_TABLE_STATES
