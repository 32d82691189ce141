"""Client of a sandbox server's control API, with the same helpers as the in-process ``Sandbox``."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from .calls import Call, CallLog
from .sandbox import SandboxBase
from .world import Deletion, Delivery, Overwrite


def _request(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read() or b"null")


class _Remote:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        return _request(f"{self.base}/_sandbox/{path}", method, body)


class RemoteClock(_Remote):
    def now(self) -> datetime:
        return datetime.fromisoformat(self.call("state")["now"])

    def advance(self, seconds: float) -> datetime:
        return datetime.fromisoformat(self.call("clock/advance", "POST", {"seconds": seconds})["now"])

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class RemoteFaults(_Remote):
    def throttle(self, service: str, operation: str, times: int = 1) -> None:
        self.call("faults/throttle", "POST", {"service": service, "operation": operation, "times": times})

    def fail_next_stack_update(self, stack_name: str, reason: str = "Injected failure") -> None:
        self.call("faults/stack-update", "POST", {"stack_name": stack_name, "reason": reason})

    def fail_next_rollback(self, stack_name: str, reason: str = "Injected rollback failure") -> None:
        self.call("faults/rollback", "POST", {"stack_name": stack_name, "reason": reason})

    def slow_stop(self, task_id: str, seconds: float) -> None:
        self.call("faults/slow-stop", "POST", {"task_id": task_id, "seconds": seconds})

    def fail_task(self, task_id: str, message: str = "Injected task failure", at: datetime | None = None) -> None:
        self.call("faults/task-failure", "POST",
                  {"task_id": task_id, "message": message, "at": at.isoformat() if at else None})

    def fail_next_connection_test(self, endpoint_id: str | None = None, message: str = "Injected") -> None:
        self.call("faults/connection-test", "POST", {"endpoint_id": endpoint_id, "message": message})


class RemoteSandbox(SandboxBase, _Remote):
    def __init__(self, endpoint_url: str) -> None:
        _Remote.__init__(self, endpoint_url)
        self.endpoint_url = endpoint_url
        self.clock = RemoteClock(endpoint_url)
        self.faults = RemoteFaults(endpoint_url)
        self._refresh()

    def _refresh(self) -> None:
        state = self.call("state")
        self.account_id, self.region = state["account_id"], state["region"]

    @property
    def calls(self) -> CallLog:
        """A snapshot of the server's call log (same query helpers as in-process)."""
        log = CallLog()
        for c in self.call("calls"):
            log.record(Call(c["service"], c["operation"], c["params"], datetime.fromisoformat(c["at"])))
        return log

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self.call("config", "POST", changes)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def set_table_size(self, task_id: str, schema: str, table: str, rows: int) -> None:
        self.call("table-sizes", "POST", {"task_id": task_id, "schema": schema, "table": table, "rows": rows})

    def record_changes(self, endpoint: str, schema: str, table: str, *, inserts: int = 0, updates: int = 0,
                       deletes: int = 0, ddls: int = 0, truncates: int = 0,
                       at: datetime | str | None = None) -> None:
        when = at.isoformat() if isinstance(at, datetime) else at
        self.call("changes", "POST", {"endpoint": endpoint, "schema": schema, "table": table, "inserts": inserts,
                                      "updates": updates, "deletes": deletes, "ddls": ddls, "truncates": truncates,
                                      "at": when})

    def create_slot(self, endpoint: str, slot: str) -> None:
        self.call("slots", "POST", {"endpoint": endpoint, "slot": slot})

    def drop_slot(self, endpoint: str, slot: str) -> None:
        self.call("slots", "DELETE", {"endpoint": endpoint, "slot": slot})

    def slots(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = self.call("slots")
        return found

    def tables(self, task_id: str) -> dict[str, dict[str, Any]]:
        return self.call(f"tables?task_id={task_id}")

    def table_restarts(self, task_id: str, schema: str, table: str) -> int:
        return self.tables(task_id).get(f"{schema}.{table}", {}).get("restarts", 0)

    @property
    def sns_deliveries(self) -> list[Delivery]:
        return [Delivery(**d) for d in self.call("sns-deliveries")]

    @property
    def overwrites(self) -> list[Overwrite]:
        return [Overwrite(**o) for o in self.call("overwrites")]

    @property
    def deletions(self) -> list[Deletion]:
        return [Deletion(**d) for d in self.call("deletions")]

    def load_scenario(self, scenario: str | Path | dict[str, Any]) -> None:
        body = {"scenario": scenario} if isinstance(scenario, dict) else {"path": str(Path(scenario).resolve())}
        self.call("scenario", "POST", body)
        self._refresh()

    def reset(self) -> None:
        self.call("reset", "POST", {})
