"""SIGINT / SIGTERM during apply: the run winds down instead of dying.

Each case sets the run's Interrupt at a chosen moment (what the signal handler does), then checks:
the run raises Interrupted with exit code 128 + signal, the lock is released, the run is recorded as
interrupted with what is left, tasks this run stopped are restarted where that is possible at once,
and the next apply, without `dmsctl unlock`, converges safely. The real signal path (handler,
process exit code) is tested in tests/e2e/test_interrupt_process.py.
"""

from __future__ import annotations

import signal
import time

import pytest

from dmsctl.deployer import stack_deploy, task_control
from dmsctl.deployer.interrupt import Interrupt, Interrupted
from tests.e2e.apply_helpers import (
    BUCKET,
    SETTLE,
    applier,
    assert_no_stopped_by_tags,
    assert_safe_and_converged,
    bump_foods,
    deploy_examples,
    gateway,
    lock_holder,
    status,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"
FOODS_NEW = "replication/food/fooddb/foodsearch/foods/v202111230900/"


def _signal_after(m, owner, name: str, interrupt: Interrupt, signum: int, nth: int = 1) -> None:
    """Patch owner.name: after its nth call returns, the signal 'arrives'."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == nth:
            interrupt.set(signum)
        return result

    m.setattr(owner, name, wrapped)


# moment -> (config change, where the signal arrives, foodsearch right after, what the record says is left)
MOMENTS = {
    "waiting for the stop": (tune_foodsearch, (task_control, "tag_stopped"), {"stopping", "stopped"}, "resumed by"),
    "before the change set": (tune_foodsearch, (stack_deploy, "template_argument"), {"running"}, "nothing"),
    "stopped, change set not executed": (tune_foodsearch, (task_control, "stop"), {"starting", "running"},
                                         "nothing"),
    "stack update in flight": (tune_foodsearch, (stack_deploy, "wait_stack"), {"stopped"}, "CloudFormation finishes"),
    "reload, between its steps": (bump_foods, (task_control, "wait_dropped"), {"running"}, "nothing"),
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_interrupted_apply_winds_down_and_the_next_apply_converges(harness, sandbox, tmp_path, monkeypatch,
                                                                   moment, signum):
    mutate, (owner, name), left_status, left = MOMENTS[moment]
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", mutate)
    interrupt = Interrupt()
    gw = gateway(harness)
    gw.sleep = interrupt.wrap(gw.sleep)
    with monkeypatch.context() as m:
        if name == "wait_stack":  # the signal arrives while CloudFormation updates the stack
            real = stack_deploy.wait_stack

            def wait_stack(gw_, stack, *args, **kwargs):
                if stack_deploy.stack_status(gw_, stack) == "UPDATE_IN_PROGRESS":
                    interrupt.set(signum)
                return real(gw_, stack, *args, **kwargs)
            m.setattr(stack_deploy, "wait_stack", wait_stack)
            sandbox.configure(cfn_latency_seconds=120)
        else:
            _signal_after(m, owner, name, interrupt, signum)
        run = applier(harness, cfg, gw=gw, interrupt=interrupt)
        with pytest.raises(Interrupted) as raised:
            run.run()
    assert raised.value.exit_code == 128 + signum
    assert run.record.result == "interrupted"
    assert left in run.record.error, run.record.error
    assert lock_holder(harness, cfg) is None  # released: the next apply needs no unlock
    assert status(sandbox, FOODSEARCH) in left_status

    sandbox.configure(cfn_latency_seconds=0)
    sandbox.advance(120)
    code, again, progress = harness.apply(cfg)
    assert code == 0 and again.record.result in ("applied", "no-changes"), [e.message for e in progress.events]
    sandbox.advance(60)
    assert_safe_and_converged(harness, sandbox, cfg)
    assert_no_stopped_by_tags(harness, sandbox, cfg)
    if mutate is bump_foods:  # the reload really loads the new version into its new prefix
        sandbox.advance(SETTLE)
        assert any(k.endswith("/LOAD00000001.parquet") for k in sandbox.s3_keys(BUCKET, FOODS_NEW))


def test_a_signal_before_anything_changed_changes_nothing(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    interrupt = Interrupt()
    interrupt.set(signal.SIGTERM)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg, interrupt=interrupt)
    with pytest.raises(Interrupted):
        run.run()
    mutating = [c.operation for c in sandbox.calls.since(mark) if c.mutating and c.service != "dynamodb"]
    assert mutating == [] and run.record.result == "interrupted"
    assert lock_holder(harness, cfg) is None and status(sandbox, FOODSEARCH) == "running"


def test_a_failure_while_starting_restores_and_says_so(harness, sandbox, tmp_path, monkeypatch):
    """A start that fails (any exception) goes through the restore path, and the run is failed, not applied."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    calls = []
    real = task_control.start

    def flaky_start(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection reset while starting")
        return real(*args, **kwargs)

    monkeypatch.setattr(task_control, "start", flaky_start)
    run = applier(harness, cfg)
    with pytest.raises(RuntimeError):
        run.run()
    assert run.record.result == "failed" and "connection reset" in run.record.error
    sandbox.advance(60)
    assert status(sandbox, FOODSEARCH) == "running"  # restored by the second start
    assert lock_holder(harness, cfg) is None


def test_a_failed_lock_release_does_not_fail_a_finished_deploy(harness, sandbox, tmp_path, monkeypatch):
    from dmsctl.deployer.errors import AwsError
    from dmsctl.deployer.lock import Lock

    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)

    def failing_release(self):
        raise AwsError("dynamodb:DeleteItem failed: throttled", operation="DeleteItem")

    monkeypatch.setattr(Lock, "release", failing_release)
    run = applier(harness, cfg)
    assert run.run() == 0 and run.record.result == "applied"
    messages = [e.message for e in run.progress.events]
    assert any("could not release the staging lock" in m and f"--id {run.run_id}" in m for m in messages)


def test_the_wrong_account_is_refused_before_anything_is_written(harness, sandbox, tmp_path):
    from dmsctl.deployer.apply import PlanRefused
    from tests.e2e.apply_helpers import state_table_writes

    deploy_examples(harness, sandbox, tmp_path)

    def other_account(doc: dict) -> None:
        doc["environments"]["staging"]["account_id"] = "999999999999"

    cfg = tree(tmp_path / "after", tune_foodsearch, base=other_account)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg)
    with pytest.raises(PlanRefused) as refused:
        run.run()
    assert "P114" in str(refused.value) and "999999999999" in str(refused.value)
    calls = sandbox.calls.since(mark)
    assert state_table_writes(calls) == [] and [c.operation for c in calls if c.mutating] == []


def test_the_lock_is_renewed_while_the_run_lives(harness, sandbox, tmp_path, monkeypatch):
    from dmsctl.deployer.apply import Timeouts
    from dmsctl.deployer.lock import Lock

    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    renewals = []
    real = Lock.renew

    def counted(self, *args, **kwargs):
        renewals.append(real(self, *args, **kwargs))
        return renewals[-1]

    monkeypatch.setattr(Lock, "renew", counted)
    real_stop = task_control.stop

    def slow_stop(*args, **kwargs):  # long enough in real time for a few renewals
        time.sleep(0.5)
        return real_stop(*args, **kwargs)

    monkeypatch.setattr(task_control, "stop", slow_stop)
    run = applier(harness, cfg, timeouts=Timeouts(lock_renewal=0.05))
    assert run.run() == 0
    assert renewals and all(r.run_id == run.run_id for r in renewals)
    assert lock_holder(harness, cfg) is None


def test_a_lost_lock_stops_the_run_safely(harness, sandbox, tmp_path, monkeypatch):
    from dmsctl.deployer.apply import Timeouts
    from tests.e2e.apply_helpers import make_lock

    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    interrupt = Interrupt()
    gw = gateway(harness)
    gw.sleep = interrupt.wrap(gw.sleep)
    real = stack_deploy.template_argument

    def steal_then_continue(*args, **kwargs):  # someone removes our lock and another run takes it
        thief = make_lock(harness, cfg)
        holder = thief.current()
        thief.force_release(holder.run_id)
        thief.acquire("other-run", "someone@else")
        deadline = time.monotonic() + 10
        while not interrupt.is_set:  # the keeper notices within its renewal interval
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return real(*args, **kwargs)

    monkeypatch.setattr(stack_deploy, "template_argument", steal_then_continue)
    run = applier(harness, cfg, gw=gw, interrupt=interrupt, timeouts=Timeouts(lock_renewal=0.05))
    with pytest.raises(Interrupted) as raised:
        run.run()
    assert "lost the staging lock" in str(raised.value) and "other-run" in str(raised.value)
    assert raised.value.exit_code == 1 and run.record.result == "interrupted"
    assert lock_holder(harness, cfg).run_id == "other-run"  # not released: it is not ours
    assert status(sandbox, FOODSEARCH) in ("starting", "running")  # the change set was never executed
