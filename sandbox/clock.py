"""Simulated clock shared by every sandbox service.

Two modes:
  * manual: time only moves through ``advance``/``sleep`` (tests; deterministic);
  * scaled: sim time runs at ``factor`` x real time (server/demo), ``advance`` still jumps ahead.

All sandbox state is evaluated lazily from ``now()`` when an API call arrives, so no
background threads exist.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)


class SimClock:
    def __init__(self, start: datetime = DEFAULT_START, factor: float | None = None) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._start = start
        self._offset = 0.0
        self._factor = factor
        self._real_origin = time.monotonic()
        self._lock = threading.Lock()

    @property
    def manual(self) -> bool:
        return self._factor is None

    @property
    def factor(self) -> float | None:
        return self._factor

    def now(self) -> datetime:
        with self._lock:
            elapsed = self._offset
            if self._factor is not None:
                elapsed += (time.monotonic() - self._real_origin) * self._factor
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the simulated clock never goes backwards")
        with self._lock:
            self._offset += seconds
        return self.now()

    def sleep(self, seconds: float) -> None:
        """Drop-in for ``time.sleep`` handed to the deployer."""
        if self._factor is None:
            self.advance(seconds)
        else:
            time.sleep(max(seconds, 0) / self._factor)

    def set_time(self, when: datetime) -> None:
        """Jump to ``when`` (must not be in the past)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delta = (when - self.now()).total_seconds()
        if delta > 0:
            self.advance(delta)

    def __repr__(self) -> str:
        mode = "manual" if self.manual else f"x{self._factor:g}"
        return f"SimClock({self.now().isoformat()}, {mode})"
