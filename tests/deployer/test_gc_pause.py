"""A plan runs with the cyclic garbage collector paused (deployer/gc_pause.py) and always restores it."""

from __future__ import annotations

import gc

import pytest

from dmsctl.deployer import planner
from dmsctl.deployer.gc_pause import cyclic_gc_paused


def test_make_plan_pauses_the_collector_and_restores_it_after_an_error(monkeypatch):
    seen = []

    def read_live(_gw, _compiled):
        seen.append(gc.isenabled())
        raise RuntimeError("AWS went away")

    monkeypatch.setattr(planner, "read_live", read_live)

    class Result:
        tree, config = object(), object()

    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="went away"):
        planner.make_plan(Result(), gw=None)  # type: ignore[arg-type]
    assert seen == [False]
    assert gc.isenabled()


def test_nested_pauses_restore_on_the_last_exit_and_keep_a_disabled_collector_disabled():
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still on
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: a pause does not switch it on
    finally:
        gc.enable()
