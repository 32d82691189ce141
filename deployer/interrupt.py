"""SIGINT and SIGTERM, handled alike: a run that is told to stop winds down instead of dying.

CI cancels a job with SIGINT, then SIGTERM about 7.5 s later, then SIGKILL; `timeout` and pod
evictions send SIGTERM. Killed on the spot, apply would leave tasks stopped and the deploy lock held.
Instead the first signal sets `Interrupt`: every wait of the run (all go through the gateway's
`sleep`) raises `Interrupted` at once, nothing new is started, and apply restores what it can
within a couple of seconds (docs: README, "Interruptions").
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from dmsctl.deployer.errors import DmsctlError

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(DmsctlError):
    """The run was told to stop: a signal (exit code 128 + its number: 130, 143), or a reason of the run's
    own, such as a lost deploy lock (exit code 1)."""

    def __init__(self, signum: int | None, reason: str = ""):
        super().__init__(f"interrupted by {signal.Signals(signum).name}" if signum is not None else reason)
        self.signum = signum
        self.exit_code = 128 + signum if signum is not None else 1


class Interrupt:
    """A cancellation flag a signal handler sets and every wait honours."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None
        self.reason = ""  # set by abort(): why the run stops (no signal)
        self.raise_at_once = False  # while True, the handler raises (a blocking prompt would not see the flag)

    @contextmanager
    def raising(self) -> Iterator[None]:
        """Within the block a signal raises Interrupted right away (e.g. while asking for confirmation)."""
        self.raise_at_once = True
        try:
            yield
        finally:
            self.raise_at_once = False

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signum: int) -> None:
        if self.signum is None and not self.reason:
            self.signum = signum
        self._event.set()

    def abort(self, reason: str) -> None:
        """Stop the run as a signal would, for a reason of its own (e.g. the deploy lock was lost)."""
        if not self.reason and self.signum is None:
            self.reason = reason
        self._event.set()

    def check(self) -> None:
        """Raise Interrupted if a signal arrived (or the run was aborted)."""
        if self.signum is not None or self.reason:
            raise Interrupted(self.signum, self.reason)

    def sleep(self, seconds: float) -> None:
        """Drop-in for time.sleep that returns early, raising Interrupted, when a signal arrives."""
        self.check()
        if self._event.wait(max(0.0, seconds)):
            self.check()

    def wrap(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """An interruptible version of a gateway's `sleep`: time.sleep becomes `self.sleep`; any other
        (a simulated clock's) is checked before and after."""
        if sleep is time.sleep:
            return self.sleep

        def checked(seconds: float) -> None:
            self.check()
            sleep(seconds)
            self.check()
        return checked


APPLY_WIND_DOWN = "starting nothing new, restarting what this run stopped, releasing the lock, then exiting"


@contextmanager
def handling_signals(interrupt: Interrupt, announce: Callable[[str], None],
                     wind_down: str = APPLY_WIND_DOWN) -> Iterator[Interrupt]:
    """Route SIGINT and SIGTERM into `interrupt` while the block runs (main thread only), then restore
    the previous handlers. `announce` tells the person what happens next (once per signal)."""
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        first = interrupt.signum is None
        interrupt.set(signum)
        name = signal.Signals(signum).name
        if first:
            announce(f"received {name}: {wind_down}")
        else:
            announce(f"received {name} again: still winding down")
        if interrupt.raise_at_once:
            interrupt.check()

    previous = {s: signal.getsignal(s) for s in HANDLED}
    for s in HANDLED:
        signal.signal(s, handler)
    try:
        yield interrupt
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
