"""Progress of an apply: lines for people (live on a terminal, plain in CI logs) and a run record.

Every event is recorded (for `--format json` and the run record in the state table); rendering is
separate: `PlainSink` prints timestamped lines, `RichSink` adds colour and a live status line on a
TTY, `NullSink` prints nothing (JSON output prints the record at the end).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the run started
    # step | change-set | stop | stopped | deploy | stack-event | deployed | start | started | wait | info | error
    kind: str
    message: str
    stack: str | None = None
    task: str | None = None


class Sink(Protocol):
    """Where a Progress sends its events: PlainSink, RichSink, NullSink (or a test's own)."""

    def show(self, e: Event) -> None: ...

    def status(self, text: str) -> None: ...

    def close(self) -> None: ...


class PlainSink:
    def __init__(self, echo: Callable[[str], object] = print):
        self.echo = echo

    def show(self, e: Event) -> None:
        where = f"[{e.stack}] " if e.stack else ""
        self.echo(f"{_clock(e.at)} {where}{e.message}")

    def status(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class RichSink:
    STYLES = {"step": "bold", "error": "bold red", "stack-event": "dim", "stopped": "yellow", "started": "green",
              "deployed": "green", "stop": "yellow", "start": "cyan"}

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self._status = self.console.status("")
        self._status.start()

    def show(self, e: Event) -> None:
        where = f"[{e.stack}] " if e.stack else ""
        style = self.STYLES.get(e.kind, "")
        self.console.print(f"[dim]{_clock(e.at)}[/dim] {where}{e.message}", style=style, markup=True,
                           highlight=False)

    def status(self, text: str) -> None:
        self._status.update(text)

    def close(self) -> None:
        self._status.stop()


class NullSink(PlainSink):
    def __init__(self) -> None:
        super().__init__(echo=lambda _: None)


@dataclass
class Progress:
    sink: Sink = field(default_factory=PlainSink)
    monotonic: Callable[[], float] = time.monotonic
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._start = self.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return self.monotonic() - self._start

    def emit(self, kind: str, message: str, stack: str | None = None, task: str | None = None) -> None:
        e = Event(round(self.elapsed(), 1), kind, message, stack, task)
        with self._lock:
            self.events.append(e)
            self.sink.show(e)

    def status(self, text: str) -> None:
        self.sink.status(text)

    def close(self) -> None:
        self.sink.close()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"
