"""The source databases' change logs, which CDC tasks read (ASSUMPTIONS A22).

Changes belong to a source database, named by its source endpoint identifier: every task
reading that endpoint sees them. A source nobody described (no ``record`` for its endpoint)
changes synthetically at ``SimConfig.cdc_rows_per_second`` per table (A14).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Counts:
    inserts: float = 0.0
    updates: float = 0.0
    deletes: float = 0.0
    ddls: float = 0.0
    truncates: float = 0.0  # TRUNCATE TABLE at the source (A65)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.inserts + other.inserts, self.updates + other.updates,
                      self.deletes + other.deletes, self.ddls + other.ddls, self.truncates + other.truncates)

    def __bool__(self) -> bool:
        return any((self.inserts, self.updates, self.deletes, self.ddls, self.truncates))


def synthetic(rate: float, start: datetime, end: datetime) -> Counts:
    """A source nobody described: ``rate`` inserts/s, half as many updates, a tenth as many deletes."""
    seconds = max((end - start).total_seconds(), 0.0)
    return Counts(seconds * rate, seconds * rate / 2, seconds * rate / 10)


class ChangeFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # endpoint identifier -> (schema, table) -> (sorted times, counts at those times)
        self._log: dict[str, dict[tuple[str, str], tuple[list[datetime], list[Counts]]]] = {}

    def record(self, endpoint_id: str, schema: str, table: str, at: datetime, counts: Counts) -> None:
        with self._lock:
            times, values = self._log.setdefault(endpoint_id, {}).setdefault((schema, table), ([], []))
            index = bisect.bisect_right(times, at)
            times.insert(index, at)
            values.insert(index, counts)

    def described(self, endpoint_id: str) -> bool:
        with self._lock:
            return endpoint_id in self._log

    def window(self, endpoint_id: str, schema: str, table: str, start: datetime, end: datetime) -> Counts:
        """The changes of one table with ``start < time <= end``."""
        total = Counts()
        with self._lock:
            times, values = self._log.get(endpoint_id, {}).get((schema, table), ([], []))
            for counts in values[bisect.bisect_right(times, start):bisect.bisect_right(times, end)]:
                total = total + counts
        return total

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [
                {"endpoint": endpoint, "schema": schema, "table": table, "at": at.isoformat(),
                 "inserts": c.inserts, "updates": c.updates, "deletes": c.deletes, "ddls": c.ddls,
                 "truncates": c.truncates}
                for endpoint, tables in self._log.items()
                for (schema, table), (times, values) in tables.items()
                for at, c in zip(times, values, strict=True)
            ]
