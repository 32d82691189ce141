"""`dmsctl apply`: execute a fresh plan, step by step, stack by stack, safely.

Per step: the base stack first (when it changes), then team stacks in parallel (bounded). Per
stack: re-check that no table of the tasks to stop is loading, create the change set and check it
against the plan (a replacement the plan does not show is refused, P150, before anything is
stopped), tag and stop the tasks, execute the change set, start/resume what should run, wait. All
waits of a step go through the gateway's one poller (parallel stacks share its reads). Whatever fails after tasks were
stopped (any exception), the tasks that were running and are not paused in config are started again
before the error is reported. After the last step a fresh plan must say "No changes".

Interrupted (SIGINT / SIGTERM, deployer/interrupt.py): every wait stops at once, nothing new starts,
a change set not executed yet is deleted (the next apply makes its own),
tasks this run stopped are started again without waiting for them, unless their stack's update is
in flight (CloudFormation finishes it; the next apply resumes them), the lock is released and the
run is recorded as interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dmsctl.compiler import naming
from dmsctl.compiler.build import CompileResult
from dmsctl.compiler.findings import format_line
from dmsctl.deployer import handover, replacements, stack_deploy, task_control
from dmsctl.deployer import plan as P
from dmsctl.deployer.acknowledgements import plan_acknowledged, stale_reason
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.diff import _tasks_in
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.interrupt import Interrupt, Interrupted
from dmsctl.deployer.live import LiveTask
from dmsctl.deployer.lock import Lock, LockLost, default_owner
from dmsctl.deployer.planner import Planned
from dmsctl.deployer.progress import Progress
from dmsctl.deployer.task_states import RUNNING, STARTABLE


class PlanRefused(DmsctlError):
    pass


class StalePlan(DmsctlError):
    pass


# While a stack's tasks are stopped, AWS is asked at least this often (seconds) whether the stop, the
# deploy or the start has finished: every second of lateness is a second of replication stopped. Within
# that, a wait looks again after at most STOPPED_POLL_LATE of the time it has waited, and at least every
# STOPPED_POLL_FIRST s (tasks) / STOPPED_STACK_FIRST s (the stack): an end is seen within about 1 s, or 4 %
# of the wait for long ones. Each second costs a DescribeStackEvents per stack (benchmarks/README.md).
STOPPED_POLL_MAX = 10.0
STOPPED_POLL_FIRST = 1.0
STOPPED_STACK_FIRST = 1.0
STOPPED_POLL_LATE = 0.04

@dataclass(frozen=True)
class Timeouts:
    task: float = 3600.0  # stop/start one batch of tasks
    stack: float = 3600.0  # one stack deploy
    drop: float = 1800.0  # DMS dropping removed tables after a resume
    lock_renewal: float = 900.0  # the lock's expiry is pushed out this often (real seconds) while the run lives


@dataclass
class RunRecord:
    run_id: str
    env: str
    owner: str
    plan_checksum: str = ""
    steps_done: int = 0
    stopped_seconds: dict[str, float] = field(default_factory=dict)  # task -> seconds stopped by this run
    result: str = "running"
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Applier:
    def __init__(self, gw: Gateway, result: CompileResult, progress: Progress, *, flags: Flags = Flags(),
                 timeouts: Timeouts = Timeouts(), parallelism: int = 10, run_id: str | None = None,
                 owner: str | None = None, interrupt: Interrupt | None = None):
        if gw.read_only:
            raise ValueError("apply needs a writable gateway")
        self.gw, self.result, self.progress = gw, result, progress
        self.flags, self.timeouts, self.parallelism = flags, timeouts, parallelism
        tree = result.require_tree()
        self.tree = tree
        self.run_id = run_id or time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.record = RunRecord(self.run_id, tree.env, owner or default_owner())
        self.state_table = naming.lock_table(tree.resource_prefix)
        # CloudFormation deploys with the bootstrap stack's service role, never with apply's own credentials.
        self._cfn_role = naming.role_arn(tree.account_id, naming.cfn_service_role(tree.resource_prefix, tree.env))
        self.lock = Lock(gw, self.state_table, tree.env)
        self._stopped_at: dict[str, float] = {}
        # Set by a signal (the CLI wires it to SIGINT/SIGTERM and to the gateway's sleep).
        self.interrupt = interrupt or Interrupt()
        self._left: list[str] = []  # what an interruption left for the next apply
        # tasks config wants running (apply resumes one it had to stop on a re-check; P.StackStep.recheck)
        self._wants_running = {t.identifier for t in tree.tasks() if not t.paused and t.schedule is None}
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()

    # -- the run ---------------------------------------------------------------------------
    def plan(self) -> Planned:
        return plan_acknowledged(self.result, self.gw, self.flags)

    def run(self, expected: P.Plan | None = None, confirm: Callable[[P.Plan], bool] | None = None) -> int:
        """Plan, check, then run the steps. `expected`: the reviewed plan (`apply --plan`): refused unless the
        fresh plan is the same."""
        total = 0  # steps of the plan, once made
        try:
            self._check_account()
            self._take_lock()
            planned = self.plan()
            plan = planned.plan
            total = len(plan.steps)
            self.record.plan_checksum = plan.checksum
            if expected is not None and expected.checksum != plan.checksum:
                raise StalePlan(stale_reason(expected, plan))
            if not plan.go:
                blocking = [c for c in plan.checks if c.blocks]
                lines = "\n".join(f"  {format_line(c)}" for c in blocking)  # as the plan shows checks
                raise PlanRefused(f"the plan is no-go ({len(blocking)} blocking check(s)); nothing was changed:\n"
                                  f"{lines}")
            if not plan.has_changes:
                self.progress.emit("info", "No changes. DMS matches the configuration.")
                self.record.result = "no-changes"
                return 0
            if confirm is not None and not confirm(plan):
                self.record.result = "cancelled"
                raise DmsctlError("apply cancelled; nothing was changed")
            for step in plan.steps:
                self.interrupt.check()
                self._run_step(step, planned, len(plan.steps))
                self.record.steps_done = step.number
            self._final_check()
            self.record.result = "applied"
            return 0
        except Interrupted as exc:
            left = "; ".join(self._left) or "nothing"
            self.record.result = "interrupted"
            self.record.error = (f"{exc} after {self.record.steps_done} of {total} step(s); left for the next "
                                 f"apply: {left}")
            self.progress.emit("error", f"{self.record.error}. The next apply finishes the work (no unlock "
                                        "needed).")
            raise
        except DmsctlError as exc:
            if self.record.result == "running":
                self.record.result = "failed"
                self.record.error = str(exc)
            raise
        except Exception as exc:
            if self.record.result == "running":
                self.record.result = "failed"
                self.record.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._finish()

    def _check_account(self) -> None:
        """Before anything is written (the lock, a run record): are these credentials for this environment?"""
        account = self.gw.call("sts", "get_caller_identity", resource="the credentials")["Account"]
        if account != self.tree.account_id:
            raise PlanRefused(f"P114: credentials are for account {account}, but environment {self.tree.env} is "
                              f"account {self.tree.account_id}: refusing to apply; nothing was changed or written")

    def _take_lock(self) -> None:
        if self.lock.table_exists():
            info = self.lock.acquire(self.run_id, self.record.owner)
            self.progress.emit("info", f"lock taken for {self.tree.env}: run {info.run_id} by {info.owner}")
            self._keep_lock()
        else:
            self.progress.emit("info", "no state table yet (first deploy): the lock is taken once the base stack "
                                       "exists")

    def _keep_lock(self) -> None:
        """Renew the lock while the run lives; a lost lock stops the run the way a signal does."""
        def keep() -> None:
            while not self._keeper_stop.wait(self.timeouts.lock_renewal):
                try:
                    self.lock.renew()
                except LockLost as exc:
                    self.interrupt.abort(f"{exc}: stopping safely (another run may be deploying)")
                    return
                except DmsctlError as exc:  # a failed renewal is retried; the TTL leaves hours of margin
                    self.progress.emit("error", f"could not renew the {self.tree.env} lock: {exc}")

        self._keeper = threading.Thread(target=keep, name="dmsctl-lock-keeper", daemon=True)
        self._keeper.start()

    def _finish(self) -> None:
        self._keeper_stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=10)
        try:
            if self.lock.held is not None:
                self.lock.record_run(self.run_id, self.record.as_dict())
        except DmsctlError as exc:
            self.progress.emit("error", f"could not write the run record: {exc}")
        finally:
            try:
                self.lock.release()
            except DmsctlError as exc:  # the deploy itself is done: report, don't turn it into a failure
                self.progress.emit("error", f"could not release the {self.tree.env} lock: {exc}. Remove it with "
                                            f"dmsctl unlock --env {self.tree.env} --id {self.run_id}")
            finally:
                self.progress.close()

    # -- steps -----------------------------------------------------------------------------
    def _run_step(self, step: P.Step, planned: Planned, total: int) -> None:
        self.progress.emit("step", f"Step {step.number} of {total}: {step.description}")
        base = [s for s in step.stacks if s.stack == naming.base_stack(self.tree.resource_prefix)]
        for s in base:
            self._run_stack(s, planned)
            if self.lock.held is None and self.lock.table_exists():
                self._take_lock()
        rest = [s for s in step.stacks if s not in base]
        for wave in sorted({s.wave for s in rest}):  # a wave's stacks in parallel; the next wave after it
            self._run_parallel([s for s in rest if s.wave == wave], planned)
        if step.number < total:
            dropped = tuple(e for s in step.stacks for e in s.wait_dropped
                            if e.split("/", 1)[0] in {t.identifier for t in s.start})
            if dropped:
                self.progress.status("waiting for DMS to drop the reloaded tables' old versions")
                task_control.wait_dropped(self.gw, dropped, self.timeouts.drop)
                self.progress.emit("info", f"DMS dropped {len(dropped)} old table version(s); next step adds them back")

    def _run_parallel(self, stacks: list[P.StackStep], planned: Planned) -> None:
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism)) as pool:
            futures = [pool.submit(self._run_stack, s, planned) for s in stacks]
            errors = []
            for f in futures:
                try:
                    f.result()
                except DmsctlError as exc:
                    errors.append(exc)
        interrupted = [e for e in errors if isinstance(e, Interrupted)]
        if interrupted:
            raise interrupted[0]
        if errors:
            if len(errors) == 1:
                raise errors[0]
            raise DmsctlError("; ".join(str(e) for e in errors))

    def _run_stack(self, s: P.StackStep, planned: Planned) -> None:
        self.interrupt.check()  # a stack not begun when the signal came is not begun at all
        # What runs is read now, when the step starts: the plan's state is older (a task may have been
        # started by hand since, or by an earlier step of this run).
        states = task_control.describe(self.gw, [*s.stop, *s.recheck])
        to_stop = [states[i] for i in (*s.stop, *s.recheck)
                   if i in states and states[i].status in RUNNING]
        s = self._with_restarts(s, planned, [st.identifier for st in to_stop if st.identifier in s.recheck])
        for st in to_stop:
            task_control.assert_no_full_load(self.gw, st, self.flags.allow_interrupt)
        # The change set first, while everything still runs; a replacement the plan does not show is
        # refused here, before anything is stopped.
        cs = self._prepare(s, planned)
        if cs is not None and cs.empty:  # CloudFormation sees no change: only stop what the step needs anyway
            starting = {e.identifier for e in s.start}
            to_stop = [st for st in to_stop if st.identifier in s.repair or st.identifier not in starting]
        executed: list[str] = []
        stopped: list[LiveTask] = []
        try:
            self.interrupt.check()
            if to_stop:
                for st in to_stop:
                    task_control.tag_stopped(self.gw, st, self.run_id)
                names = ", ".join(t.identifier for t in to_stop)
                self.progress.emit("stop", f"stopping {names}", stack=s.stack)
                self.progress.status(f"{s.stack}: waiting for {names} to stop")
                for st in to_stop:
                    self._stopped_at[st.identifier] = self.progress.elapsed()
                stopped = to_stop
                task_control.stop(self.gw, to_stop, self.timeouts.task, STOPPED_POLL_MAX,
                                  first_delay=STOPPED_POLL_FIRST, late=STOPPED_POLL_LATE)
                self.progress.emit("stopped", f"stopped {names}", stack=s.stack)
            for ident in s.capture_checkpoint:
                cp = handover.capture(self.gw, self.state_table, ident, self.run_id)
                self.progress.emit("info", f"captured {ident}'s recovery checkpoint {cp}", stack=s.stack)
            self._deploy(s, cs, tasks_stopped=bool(to_stop), executed=executed)
            self._repair(s)
            self._start(s)
        except Interrupted:
            self._discard(s, cs, executed)
            self._restore_now(s, stopped)
            raise
        except Exception:  # any failure (a process kill is not one: nothing runs then)
            self._discard(s, cs, executed)
            self._restore(s, stopped)
            raise

    def _prepare(self, s: P.StackStep, planned: Planned) -> stack_deploy.ChangeSet | None:
        """Create the step's change set (None: the step deploys no template) and check it against the plan
        (P150): refused, it is deleted and the error raised; nothing was stopped."""
        if s.action in (P.DELETE, P.NONE) or s.template_sha256 is None:
            return None
        compiled = planned.bodies[s.template_sha256]
        arg = stack_deploy.template_argument(self.gw, s.stack, compiled.body, compiled.template_sha256,
                                             self.tree.artifacts_bucket, self.tree.region)
        self.interrupt.check()
        via = " (template via S3)" if "TemplateURL" in arg else ""
        self.progress.emit("change-set", f"creating the change set for template {s.template_sha256[:12]}{via}",
                           stack=s.stack)
        self.progress.status(f"{s.stack}: creating the change set")
        tags = [{"Key": "dmsctl:managed-by", "Value": "dmsctl"}, {"Key": "dmsctl:environment", "Value": self.tree.env}]
        cs = stack_deploy.create_change_set(self.gw, s.stack, arg, tags, self.run_id, self.timeouts.stack,
                                            must_create=self.lock.held is None and s.action == P.CREATE,
                                            role_arn=self._cfn_role)
        if cs.arn is not None:
            try:
                replacements.check(cs.changes, replacements.planned_replacements(planned.plan, s.stack,
                                                                                 compiled.template), s.stack)
            except replacements.UnexpectedReplacement:
                self._discard(s, cs, [])
                raise
        return cs

    def _discard(self, s: P.StackStep, cs: stack_deploy.ChangeSet | None, executed: list[str]) -> None:
        """A change set not executed is deleted, so that nobody executes it later by mistake (the next apply
        makes its own); if that fails it is left unexecuted, which changes nothing."""
        if cs is None or cs.arn is None or cs.arn in executed:
            return
        try:
            stack_deploy.delete_change_set(self.gw, s.stack, cs.arn)
            self.progress.emit("info", "deleted the change set, not executed", stack=s.stack)
        except DmsctlError as exc:
            self.progress.emit("error", f"could not delete the change set {cs.arn} ({exc}); it is left "
                                        "unexecuted and changes nothing", stack=s.stack)

    def _with_restarts(self, s: P.StackStep, planned: Planned, rechecked: list[str]) -> P.StackStep:
        """The stack step with a resume added for each re-checked task this run is about to stop that config
        wants running, that the step does not start anyway and that outlives the deploy (a deleted task, or
        a replaced one in the step that removes it, is gone afterwards)."""
        starting = {e.identifier for e in s.start}
        removed = {t.identifier for c in planned.plan.stacks if c.stack == s.stack for t in c.tasks
                   if t.action in (P.DELETE, P.REPLACE)} if s in planned.plan.steps[0].stacks else set()
        extra = tuple(P.TaskStart(i, P.RESUME_PROCESSING) for i in rechecked
                      if i in self._wants_running and i not in starting and i not in removed)
        if rechecked:
            self.progress.emit("info", f"{', '.join(rechecked)} running again since the plan: stopped for this "
                                       "deploy too", stack=s.stack)
        return dataclasses.replace(s, start=s.start + extra) if extra else s

    def _deploy(self, s: P.StackStep, cs: stack_deploy.ChangeSet | None, tasks_stopped: bool = False,
                executed: list[str] | None = None) -> None:
        """Execute the step's change set (or delete the stack); `executed` gets its ARN right before."""
        def on_event(e: stack_deploy.StackEvent) -> None:
            reason = f": {e.reason}" if e.reason else ""
            self.progress.emit("stack-event", f"{e.logical_id} {e.status}{reason}", stack=s.stack)

        if s.action == P.DELETE:
            self.progress.emit("deploy", "deleting stack", stack=s.stack)
            stack_deploy.delete(self.gw, s.stack, self.timeouts.stack, on_event, role_arn=self._cfn_role)
            self.progress.emit("deployed", "deleted", stack=s.stack)
            return
        if cs is None:
            return

        def before_execute() -> None:
            self.interrupt.check()
            if executed is not None and cs.arn is not None:
                executed.append(cs.arn)

        if cs.arn is not None:
            self.progress.emit("deploy", f"executing the change set ({len(cs.changes)} resource change(s))",
                               stack=s.stack)
        self.progress.status(f"{s.stack}: deploying")
        pace = ({"max_delay": STOPPED_POLL_MAX, "first_delay": STOPPED_STACK_FIRST, "late": STOPPED_POLL_LATE}
                if tasks_stopped else {"max_delay": 30.0})
        outcome = stack_deploy.execute(self.gw, cs, self.timeouts.stack, on_event, before_execute=before_execute,
                                       **pace)
        self.progress.emit("deployed", outcome, stack=s.stack)

    def _repair(self, s: P.StackStep) -> None:
        """Acknowledged drift (--allow-drift) the deploy left in place: set the tasks' TableMappings and
        settings back to the config's. They are stopped (DMS modifies only a stopped task)."""
        if not s.repair:
            return
        wanted = {ident: props for st in self.result.require_tree().stacks
                  for ident, (_l, props) in _tasks_in(st.template).items()}
        states = task_control.describe(self.gw, s.repair)
        for ident in s.repair:
            props = wanted[ident]
            self.progress.emit("deploy", f"setting {ident}'s TableMappings and settings back to the config's "
                                         "(drift repair)", stack=s.stack)
            task_control.modify(self.gw, states[ident], {k: _as_text(props[k]) for k in
                                                          ("TableMappings", "ReplicationTaskSettings") if k in props})
        task_control.wait(self.gw, list(s.repair), lambda t: t.status in STARTABLE, "modified", self.timeouts.task,
                          STOPPED_POLL_MAX)

    def _start(self, s: P.StackStep) -> None:
        if s.test_connections:
            self.progress.emit("wait", f"testing the connections of {', '.join(s.test_connections)}", stack=s.stack)
            tested = task_control.wait(self.gw, list(s.test_connections), lambda t: t.status in STARTABLE | RUNNING,
                                       "created", self.timeouts.task, STOPPED_POLL_MAX)
            task_control.ensure_connections(self.gw, [(t.instance_arn, e) for t in tested.values()
                                                      for e in t.endpoints], self.timeouts.task, STOPPED_POLL_MAX)
        if not s.start:
            return
        idents = [e.identifier for e in s.start]
        ready = task_control.wait_startable(self.gw, idents, self.timeouts.task, STOPPED_POLL_MAX)
        for entry in s.start:
            if ready[entry.identifier].status in RUNNING:
                continue
            position = handover.stored(self.gw, self.state_table, entry.identifier) if entry.from_checkpoint else None
            where = f" from checkpoint {position}" if position else ""
            self.progress.emit("start", f"{entry.start_type} {entry.identifier}{where}", stack=s.stack)
            task_control.start(self.gw, ready[entry.identifier], entry.start_type, cdc_start_position=position)
        self.progress.status(f"{s.stack}: waiting for {', '.join(idents)} to run")
        states = task_control.wait(self.gw, idents, task_control.is_up, "running", self.timeouts.task,
                                   STOPPED_POLL_MAX, look_now=False)  # a start takes seconds
        for ident in idents:
            self._note_restarted(ident)
            task_control.untag_stopped(self.gw, states[ident].arn, ident)
        for entry in s.start:
            if entry.from_checkpoint:
                handover.done(self.gw, self.state_table, entry.identifier)
        self.progress.emit("started", f"running: {', '.join(idents)}", stack=s.stack)

    def _restore_now(self, s: P.StackStep, stopped: list[LiveTask]) -> None:
        """Interrupted: start what this run stopped and config wants running, without waiting for it; what
        cannot be started right now (its stack's update is in flight, or it is still stopping) stays
        tagged for the next apply, which resumes it."""
        wanted = [st for st in stopped if st.identifier in {e.identifier for e in s.start}]
        if not wanted:
            return
        status = stack_deploy.stack_status(self.gw, s.stack) or ""
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            names = ", ".join(st.identifier for st in wanted)
            self._left.append(f"{s.stack} is {status} (CloudFormation finishes it); {names} stay stopped")
            return
        now = task_control.describe(self.gw, [st.identifier for st in wanted])
        for st in wanted:
            live = now.get(st.identifier)
            if live is None or live.status in RUNNING:
                continue
            if live.status not in STARTABLE:
                self._left.append(f"{st.identifier} is {live.status}: resumed by the next apply")
                continue
            try:
                task_control.start(self.gw, live, P.RESUME_PROCESSING if st.ever_started else P.START_REPLICATION)
                self.progress.emit("start", f"restarted {st.identifier} (not waiting for it: interrupted)",
                                   stack=s.stack)
            except DmsctlError as exc:
                self._left.append(f"{st.identifier} could not be restarted ({exc})")

    def _restore(self, s: P.StackStep, stopped: list[LiveTask]) -> None:
        """After a failure: start again what this run stopped and config wants running."""
        wanted = {e.identifier: e.start_type for e in s.start}
        for st in stopped:
            if st.identifier not in wanted:
                continue  # paused in config, or being deleted/replaced
            try:
                self.progress.emit("start", f"restoring {st.identifier} after the failure", stack=s.stack)
                ready = task_control.wait_startable(self.gw, [st.identifier], self.timeouts.task)
                if ready[st.identifier].status not in RUNNING:  # its stop may have failed
                    task_control.start(self.gw, ready[st.identifier], P.RESUME_PROCESSING if st.ever_started
                                       else P.START_REPLICATION)
                task_control.wait(self.gw, [st.identifier], task_control.is_up, "running", self.timeouts.task)
                self._note_restarted(st.identifier)
                task_control.untag_stopped(self.gw, st.arn, st.identifier)
            except DmsctlError as exc:
                self.progress.emit("error", f"could not restart {st.identifier}: {exc}. It is tagged "
                                            f"{task_control.STOPPED_BY_TAG}={self.run_id}; the next apply resumes it",
                                   stack=s.stack)

    def _note_restarted(self, ident: str) -> None:
        if ident in self._stopped_at:
            stopped = self.progress.elapsed() - self._stopped_at.pop(ident)
            self.record.stopped_seconds[ident] = round(self.record.stopped_seconds.get(ident, 0) + stopped, 1)

    def _final_check(self) -> None:
        final = self.plan().plan
        if final.has_changes:
            raise DmsctlError("applied every step, but a fresh plan still shows changes; run dmsctl plan to see them")
        drift = [c for c in final.checks if c.code == "P110"]
        if drift:  # never claim a match while DMS is known to differ (drift left alone, not acknowledged)
            self.progress.emit("info", f"final check: No changes to deploy, but {len(drift)} drift warning(s) remain "
                                       "(DMS differs from the config): " + "; ".join(c.describe() for c in drift))
            return
        self.progress.emit("info", "final check: No changes. DMS matches the configuration.")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
