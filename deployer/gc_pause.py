"""Pause Python's cyclic garbage collector around allocation-heavy work that makes no cycles.

A plan at 200 teams allocates about a million containers (600 task descriptions parsed by botocore,
every template and TableMappings document parsed): each full collection then walks the compiled tree
too, and a plan paid one or two of them (0.1-0.3 CPU s, the difference between two plans of the same
tree; benchmarks/README.md). What a plan allocates is freed by reference counting; the rare cycle is
collected once the collector runs again. The same technique as Mercurial's `util.nogc`.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # nested or concurrent pauses: the last one out restores the collector
_was_enabled = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
