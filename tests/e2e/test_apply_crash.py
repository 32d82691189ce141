"""An apply that dies at a step boundary (the process is killed: no restore, no lock release, no run
record), then: the next apply is refused naming the dead run, `dmsctl unlock --id RUN` removes its
lock, and the apply after that converges (tasks left stopped are resumed; a half-done reload ends
with the new version loaded into its new prefix and nothing overwritten).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dmsctl.deployer import task_control
from dmsctl.deployer.apply import Applier
from dmsctl.deployer.cli.main import cli
from dmsctl.deployer.lock import Lock, LockHeld
from tests.e2e.apply_helpers import (
    BUCKET,
    SETTLE,
    Crash,
    applier,
    assert_no_stopped_by_tags,
    assert_safe_and_converged,
    bump_foods,
    deploy_examples,
    lock_holder,
    resource_mutations,
    status,
    tasks,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"
FOODS_OLD = "replication/food/fooddb/foodsearch/foods/v202008040000/"
FOODS_NEW = "replication/food/fooddb/foodsearch/foods/v202111230900/"


def _die(*_args, **_kwargs):
    raise Crash("killed")


def _die_after(real):
    def wrapped(*args, **kwargs):
        real(*args, **kwargs)
        raise Crash("killed right after")

    return wrapped


def _deploy_dies_on(n: int):
    """Install: the n-th stack deploy of the run dies before it starts."""
    def install(m):
        real, calls = Applier._deploy, []

        def deploy(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                raise Crash(f"killed before deploy {n}")
            return real(self, *args, **kwargs)

        m.setattr(Applier, "_deploy", deploy)

    return install


# crash point -> (config change, how to die, status of foodsearch right after the crash)
CRASHES = {
    "tagged, before stop": (tune_foodsearch, lambda m: m.setattr(task_control, "stop", _die), "running"),
    "after stop, before deploy": (tune_foodsearch, _deploy_dies_on(1), "stopped"),
    "after deploy, before start": (tune_foodsearch, lambda m: m.setattr(Applier, "_start", _die), "stopped"),
    "resume, before StartReplicationTask": (
        tune_foodsearch, lambda m: m.setattr(task_control, "start", _die), "stopped"),
    "resume, after StartReplicationTask": (
        tune_foodsearch, lambda m: m.setattr(task_control, "start", _die_after(task_control.start)),
        "starting"),
    "reload, step 1 after deploy, before resume": (bump_foods, lambda m: m.setattr(Applier, "_start", _die),
                                                   "stopped"),
    "reload, between step 1 and step 2": (
        bump_foods, lambda m: m.setattr(task_control, "wait_dropped", _die_after(task_control.wait_dropped)),
        "running"),
    "reload, step 2 after stop, before deploy": (bump_foods, _deploy_dies_on(2), "stopped"),
}


def _crashing_apply(harness, cfg, monkeypatch, install) -> Applier:
    """Run apply until it dies; like a killed process it releases nothing and records nothing."""
    with monkeypatch.context() as m:
        m.setattr(Lock, "release", lambda self: None)
        m.setattr(Lock, "record_run", lambda self, run_id, record: None)
        install(m)
        run = applier(harness, cfg)
        with pytest.raises(Crash):
            run.run()
    return run


@pytest.mark.parametrize("point", list(CRASHES))
def test_crash_then_refused_then_unlock_then_converges(harness, sandbox, tmp_path, monkeypatch, point):
    mutate, install, left = CRASHES[point]
    deploy_examples(harness, sandbox, tmp_path)
    old_keys = set(sandbox.s3_keys(BUCKET, FOODS_OLD))
    cfg = tree(tmp_path / "after", mutate)

    dead = _crashing_apply(harness, cfg, monkeypatch, install)
    assert status(sandbox, FOODSEARCH) == left
    holder = lock_holder(harness, cfg)
    assert holder is not None and holder.run_id == dead.run_id

    mark = sandbox.calls.mark()
    with pytest.raises(LockHeld) as refused:
        harness.apply(cfg)
    assert dead.run_id in str(refused.value) and dead.record.owner in str(refused.value)
    assert f"dmsctl unlock --env staging --id {dead.run_id}" in str(refused.value)
    assert resource_mutations(sandbox.calls.since(mark)) == []

    wrong = CliRunner().invoke(cli, ["--config-dir", str(cfg), "unlock", "--id", "not-the-holder"])
    assert wrong.exit_code == 1 and dead.run_id in wrong.output
    unlocked = CliRunner().invoke(cli, ["--config-dir", str(cfg), "unlock", "--id", dead.run_id])
    assert unlocked.exit_code == 0, unlocked.output
    assert f"removed the staging lock of run {dead.run_id}" in unlocked.output
    assert lock_holder(harness, cfg) is None

    if point == "reload, step 1 after deploy, before resume":  # the task never ran without the table
        planned, _ = harness.plan(cfg)
        assert len(planned.plan.steps) == 2, planned.plan.steps
        [interrupted] = [c for c in planned.plan.checks if c.code == "P119"]
        assert interrupted.severity == "warning" and interrupted.resource == "food/foodsearch/foodsearch.foods"
        assert "not replicated until this apply adds it back" in interrupted.message
    code, third, progress = harness.apply(cfg)
    assert code == 0 and third.record.result in ("applied", "no-changes"), \
        [e.message for e in progress.events]
    if third.record.result == "no-changes":  # the dead run had started it: "starting" counts as running
        assert left == "starting"
        sandbox.advance(60)
    assert status(sandbox, FOODSEARCH) == "running"
    assert_safe_and_converged(harness, sandbox, cfg)
    if point != "resume, after StartReplicationTask":  # then the dead run's tag outlives it: nothing to do
        assert_no_stopped_by_tags(harness, sandbox, cfg)
    if mutate is bump_foods:
        sandbox.advance(SETTLE)
        assert any(k.endswith("/LOAD00000001.parquet") for k in sandbox.s3_keys(BUCKET, FOODS_NEW))
        assert old_keys <= set(sandbox.s3_keys(BUCKET, FOODS_OLD))
        assert sandbox.tables(FOODSEARCH)["foodsearch.foods"]["state"] == "Table completed"
        assert sandbox.overwrites == []
    assert all(info["restarts"] == 0 for i in tasks(sandbox) for info in sandbox.tables(i).values())


# -- random moments: a bounded, seeded matrix ----------------------------------------------------------------
READS = ("describe_", "list_", "get_", "query")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
@pytest.mark.parametrize("seed", [3, 11, 29])
def test_a_reload_stopped_at_a_random_moment_converges_on_the_next_apply(harness, sandbox, tmp_path, monkeypatch,
                                                                         seed, how):
    """A two-step reload stopped at the n-th AWS write (n drawn from the seed): killed (nothing restored,
    the lock left for `dmsctl unlock`), or signalled (apply winds down). The next apply converges: every
    task that should run runs, the reload full-loads into its new prefix, nothing is overwritten."""
    import random
    import signal as signals

    from dmsctl.deployer.gateway import Gateway
    from dmsctl.deployer.interrupt import Interrupted

    deploy_examples(harness, sandbox, tmp_path)
    old_keys = set(sandbox.s3_keys(BUCKET, FOODS_OLD))
    cfg = tree(tmp_path / "after", bump_foods)
    moment = random.Random(seed).randint(1, 13)  # a two-step reload of one task makes 13 writes, then the record
    real_call, writes = Gateway.call, []
    run_box: list[Applier] = []

    def call(self, service, method, **kwargs):
        if not method.startswith(READS) and service != "sts":
            writes.append(method)
            if len(writes) == moment:
                if how == "SIGKILL":
                    raise Crash(f"killed at write {moment} ({method})")
                run_box[0].interrupt.set(getattr(signals, how))
        return real_call(self, service, method, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Gateway, "call", call)
        if how == "SIGKILL":
            m.setattr(Lock, "release", lambda self: None)
            m.setattr(Lock, "record_run", lambda self, run_id, record: None)
        run = applier(harness, cfg)
        run_box.append(run)
        with pytest.raises((Crash, Interrupted)):  # stopped at that moment, not finished before it
            run.run()
    if how == "SIGKILL" and lock_holder(harness, cfg) is not None:
        unlocked = CliRunner().invoke(cli, ["--config-dir", str(cfg), "unlock", "--id", run.run_id])
        assert unlocked.exit_code == 0, unlocked.output
    assert lock_holder(harness, cfg) is None

    sandbox.advance(120)
    code, _, progress = harness.apply(cfg)
    assert code == 0, (moment, [e.message for e in progress.events])
    sandbox.advance(60)
    assert status(sandbox, FOODSEARCH) == "running"
    assert_safe_and_converged(harness, sandbox, cfg)
    sandbox.advance(SETTLE)
    assert any(k.endswith("/LOAD00000001.parquet") for k in sandbox.s3_keys(BUCKET, FOODS_NEW)), moment
    assert old_keys <= set(sandbox.s3_keys(BUCKET, FOODS_OLD))
    assert sandbox.tables(FOODSEARCH)["foodsearch.foods"]["state"] == "Table completed"
    assert sandbox.overwrites == []
