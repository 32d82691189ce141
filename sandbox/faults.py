"""Fault injection: make the next calls/updates/tests misbehave on purpose.

Each fault is consumed when it fires, so a test arms exactly what it wants to see.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class TaskFailure:
    message: str
    at: datetime | None = None  # sim time of the failure (None: the next evaluation)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._throttles: dict[tuple[str, str], int] = {}
        self._stack_update_failures: dict[str, str] = {}
        self._rollback_failures: dict[str, str] = {}
        self._slow_stops: dict[str, float] = {}
        self._task_failures: dict[str, TaskFailure] = {}
        self._connection_failures: dict[str | None, str] = {}

    # --- arming -------------------------------------------------------------
    def throttle(self, service: str, operation: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``service.operation`` with a throttling error (HTTP 400)."""
        with self._lock:
            self._throttles[(service.lower(), operation)] = times

    def fail_next_stack_update(self, stack_name: str, reason: str = "Injected failure") -> None:
        with self._lock:
            self._stack_update_failures[stack_name] = reason

    def fail_next_rollback(self, stack_name: str, reason: str = "Injected rollback failure") -> None:
        """The next rollback of ``stack_name`` cannot restore the first resource it restores (the last one
        the failed update changed): the stack ends UPDATE_ROLLBACK_FAILED. A rollback with nothing to
        restore leaves the fault armed."""
        with self._lock:
            self._rollback_failures[stack_name] = reason

    def slow_stop(self, task_id: str, seconds: float) -> None:
        """The next stop of task ``task_id`` stays in ``stopping`` for ``seconds`` sim seconds."""
        with self._lock:
            self._slow_stops[task_id] = seconds

    def fail_task(self, task_id: str, message: str = "Injected task failure", at: datetime | None = None) -> None:
        """Task ``task_id`` goes to ``failed`` at sim time ``at`` (default: at the next evaluation), or as soon
        after as it is running/starting. Changes after its last CDC batch are not applied (A23)."""
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        with self._lock:
            self._task_failures[task_id] = TaskFailure(message, at)

    def fail_next_connection_test(self, endpoint_id: str | None = None, message: str = "Injected") -> None:
        """The next connection test (of ``endpoint_id``, or of any endpoint) ends ``failed``."""
        with self._lock:
            self._connection_failures[endpoint_id] = message

    def clear(self) -> None:
        with self._lock:
            self._throttles.clear()
            self._stack_update_failures.clear()
            self._rollback_failures.clear()
            self._slow_stops.clear()
            self._task_failures.clear()
            self._connection_failures.clear()

    # --- consuming (sandbox internals) ----------------------------------------
    def take_throttle(self, service: str, operation: str) -> bool:
        key = (service.lower(), operation)
        with self._lock:
            left = self._throttles.get(key, 0)
            if left <= 0:
                return False
            self._throttles[key] = left - 1
            return True

    def take_stack_update_failure(self, stack_name: str) -> str | None:
        with self._lock:
            return self._stack_update_failures.pop(stack_name, None)

    def take_rollback_failure(self, stack_name: str) -> str | None:
        with self._lock:
            return self._rollback_failures.pop(stack_name, None)

    def take_slow_stop(self, task_id: str) -> float | None:
        with self._lock:
            return self._slow_stops.pop(task_id, None)

    def peek_task_failure(self, task_id: str) -> TaskFailure | None:
        with self._lock:
            return self._task_failures.get(task_id)

    def take_task_failure(self, task_id: str) -> TaskFailure | None:
        with self._lock:
            return self._task_failures.pop(task_id, None)

    def take_connection_failure(self, endpoint_id: str) -> str | None:
        with self._lock:
            if endpoint_id in self._connection_failures:
                return self._connection_failures.pop(endpoint_id)
            return self._connection_failures.pop(None, None)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "throttles": {f"{s}.{o}": n for (s, o), n in self._throttles.items()},
                "stack_update_failures": dict(self._stack_update_failures),
                "rollback_failures": dict(self._rollback_failures),
                "slow_stops": dict(self._slow_stops),
                "task_failures": {k: {"message": v.message, "at": v.at.isoformat() if v.at else None}
                                  for k, v in self._task_failures.items()},
                "connection_failures": {str(k): v for k, v in self._connection_failures.items()},
            }
