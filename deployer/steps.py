"""Turn stack changes into ordered deploy steps. Pure.

One step when nothing is reloaded. When a table is reloaded in place (same task, version bumped),
two steps: step 1 deploys every change but with the reloaded tables left out (DMS drops them),
step 2 adds them back under their new version, so DMS sees a new table and full-loads it.

In each step, per stack (base first): stop the tasks the step changes that are running, deploy,
then start what was running before or is new (start-replication if the task never ran,
resume-processing otherwise). Paused tasks stay stopped; untouched tasks are never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer import plan as P
from deployer.live import LiveState

RUNNING = frozenset({"running", "starting"})


@dataclass(frozen=True)
class StackTemplates:
    """The template hashes a stack deploys: final, and (two-step plans) the intermediate one."""

    final: str | None
    intermediate: str | None = None


def _reloads(change: P.StackChange) -> bool:
    return any(tc.kind == P.RELOAD for t in change.tasks for tc in t.tables)


def _touches_task(t: P.TaskChange, step: int, two_step: bool) -> bool:
    """Does deploying this step change what the DMS task itself runs (so it must be stopped)?"""
    if t.action in (P.CREATE,):
        return False
    if step == 2:
        return any(tc.kind == P.RELOAD for tc in t.tables)
    return t.action in (P.UPDATE, P.REPLACE, P.DELETE) or bool(t.tables)


def _start_for(t: P.TaskChange, state: LiveState, paused: bool, migration_type: str | None) -> P.TaskStart | None:
    if paused or t.action == P.DELETE:
        return None
    live = state.tasks.get(t.identifier)
    if t.action in (P.CREATE, P.REPLACE) or live is None or not live.ever_started:
        return P.TaskStart(t.identifier, P.START_REPLICATION)
    if migration_type == "full-load":
        return None  # a full-load-only task that finished stays stopped; its schedule runs it
    return P.TaskStart(t.identifier, P.RESUME_PROCESSING)


def build_steps(changes: tuple[P.StackChange, ...], state: LiveState, templates: dict[str, StackTemplates],
                paused_tasks: dict[str, bool], migration_types: dict[str, str],
                externally_affected: dict[str, tuple[str, ...]]) -> tuple[P.Step, ...]:
    """`externally_affected`: stack -> task ids of *other* stacks whose resources this stack changes
    (e.g. a base target endpoint used by team tasks); they are stopped around this stack's deploy."""
    two_step = any(_reloads(c) for c in changes)
    steps = []
    for number in ((1, 2) if two_step else (1,)):
        stack_steps = []
        for change in changes:
            if number == 2 and not _reloads(change):
                continue
            tmpl = templates.get(change.stack, StackTemplates(None))
            sha = tmpl.intermediate if (two_step and number == 1 and tmpl.intermediate) else tmpl.final
            deploy = change.action != P.NONE or (number == 2)
            stop, start, wait = [], [], []
            for t in change.tasks:
                live = state.tasks.get(t.identifier)
                running = live is not None and live.status in RUNNING
                was_running = running
                if number == 1 and t.run_change == P.PAUSE_TASK:
                    stop.append(t.identifier)
                    continue
                if _touches_task(t, number, two_step) and running:
                    stop.append(t.identifier)
                if number == 1 and two_step:
                    wait += [f"{t.identifier}/{tc.name}" for tc in t.tables if tc.kind == P.RELOAD]
                paused = paused_tasks.get(t.identifier, False)
                wants_start = (t.action in (P.CREATE, P.REPLACE) and number == 1) or t.run_change == P.RESUME_TASK \
                    or (was_running and (t.identifier in stop))
                if number == 2:
                    wants_start = t.identifier in stop
                if wants_start:
                    s = _start_for(t, state, paused, migration_types.get(t.identifier))
                    if s is not None:
                        start.append(s)
            for ident in externally_affected.get(change.stack, ()) if number == 1 else ():
                live = state.tasks.get(ident)
                if live is not None and live.status in RUNNING and ident not in stop:
                    stop.append(ident)
                    start.append(P.TaskStart(ident, P.RESUME_PROCESSING))
            if not (deploy or stop or start):
                continue
            action = change.action if change.action != P.NONE else (P.UPDATE if number == 2 else P.NONE)
            stack_steps.append(P.StackStep(stack=change.stack, action=action,
                                           template_sha256=None if action == P.DELETE else sha,
                                           stop=tuple(stop), start=tuple(start), wait_dropped=tuple(wait)))
        if stack_steps:
            desc = ("remove the reloaded tables' old versions, and every other change" if two_step and number == 1
                    else "add the reloaded tables back under their new versions" if number == 2
                    else "deploy every change")
            steps.append(P.Step(number=number, description=desc, stacks=tuple(stack_steps)))
    return tuple(steps)
