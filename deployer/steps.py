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

from dmsctl.deployer import plan as P
from dmsctl.deployer.live import LiveState
from dmsctl.deployer.task_states import RUNNING

SCHEDULED = "scheduled"  # in `migration_types`: a task with a schedule (whatever its migration type)


@dataclass(frozen=True)
class StackTemplates:
    """The template hashes a stack deploys: final, and (two-step plans) the intermediate one."""

    final: str | None
    intermediate: str | None = None


def _two_step(change: P.StackChange) -> bool:
    """Reloads in place and task replacements need an intermediate deploy (remove, then add).

    A replaced task keeps its ReplicationTaskIdentifier, and CloudFormation refuses to replace a
    custom-named resource in one update: step 1 removes the task, step 2 creates it anew.
    """
    return any(t.action == P.REPLACE or any(tc.kind == P.RELOAD for tc in t.tables) for t in change.tasks)


def _changes_task(t: P.TaskChange, step: int) -> bool:
    """Does this step's deploy change what the DMS task runs (so it must be stopped first)?"""
    if t.action == P.CREATE:
        return False
    if step == 2:
        return t.action != P.REPLACE and any(tc.kind == P.RELOAD for tc in t.tables)
    return t.action in (P.UPDATE, P.REPLACE, P.DELETE) or bool(t.tables)


def _start_for(t: P.TaskChange, state: LiveState, paused: bool, migration_type: str | None) -> P.TaskStart | None:
    if paused or t.action == P.DELETE or migration_type == SCHEDULED:
        return None  # a scheduled task is started by its schedule (or `dmsctl run`), never by a deploy
    live = state.tasks.get(t.identifier)
    if t.keeps_checkpoint and (t.action in (P.REPLACE, P.CREATE) or live is None or not live.ever_started):
        return P.TaskStart(t.identifier, P.START_REPLICATION, from_checkpoint=True)
    if t.action in (P.CREATE, P.REPLACE) or live is None or not live.ever_started:
        return P.TaskStart(t.identifier, P.START_REPLICATION)
    if migration_type == "full-load":
        return None  # a full-load-only task that finished stays stopped; its schedule runs it
    return P.TaskStart(t.identifier, P.RESUME_PROCESSING)


def _task_actions(t: P.TaskChange, step: int, two_step: bool, state: LiveState, paused: bool,
                  migration_type: str | None) -> tuple[bool, P.TaskStart | None, list[str]]:
    """(stop before the deploy?, start after it, tables to wait for DMS to drop). Stopping is decided on
    plan-time state here; `_recheck` lists what apply must look at again when the step starts."""
    live = state.tasks.get(t.identifier)
    running = live is not None and live.status in RUNNING
    if step == 1 and t.run_change == P.PAUSE_TASK:
        return running, None, []
    stop = running and _changes_task(t, step)
    replaced_now = t.action == P.REPLACE and (step == 2 or not two_step)
    created_now = t.action == P.CREATE and step == 1
    wants_start = stop or replaced_now or created_now or (step == 1 and t.run_change == P.RESUME_TASK)
    if t.action == P.REPLACE and two_step and step == 1:
        wants_start = False  # removed in this step; created again in step 2
    start = _start_for(t, state, paused, migration_type) if wants_start else None
    wait = [f"{t.identifier}/{tc.name}" for tc in t.tables
            if step == 1 and two_step and tc.kind == P.RELOAD and t.action != P.REPLACE]
    return stop, start, wait


DEFAULT_WAVE = {"base": 0, "team": 1, "tasks": 2}


def build_steps(changes: tuple[P.StackChange, ...], state: LiveState, templates: dict[str, StackTemplates],
                paused_tasks: dict[str, bool], migration_types: dict[str, str],
                externally_affected: dict[str, tuple[str, ...]],
                first_step_waves: dict[str, int] | None = None) -> tuple[P.Step, ...]:
    """`externally_affected`: stack -> task ids of *other* stacks whose resources this stack changes
    (e.g. a base target endpoint used by team tasks); they are stopped around this stack's deploy.
    Waves order the stacks of a step: base, then team stacks, then task stacks (which import the team
    stacks' exports), except where `first_step_waves` says otherwise for step 1 (see planner.stack_waves)."""
    first_step_waves = first_step_waves or {}
    two_step = any(_two_step(c) for c in changes)
    steps = []
    for number in ((1, 2) if two_step else (1,)):
        stack_steps = []
        for change in changes:
            if number == 2 and not _two_step(change):
                continue
            tmpl = templates.get(change.stack, StackTemplates(None))
            sha = tmpl.intermediate if (two_step and number == 1 and tmpl.intermediate) else tmpl.final
            stop, start, wait, recheck, test = [], [], [], [], []
            capture = [t.identifier for t in change.tasks if number == 1 and t.action == P.REPLACE
                       and t.keeps_checkpoint and migration_types.get(t.identifier) != SCHEDULED]
            for t in change.tasks:
                halt, go, drop = _task_actions(t, number, two_step, state, paused_tasks.get(t.identifier, False),
                                               migration_types.get(t.identifier))
                stop += [t.identifier] if halt else []
                start += [go] if go else []
                created = t.action == P.CREATE and number == 1 or t.action == P.REPLACE and (number == 2 or
                                                                                             not two_step)
                test += [t.identifier] if created and not go else []
                wait += drop
                if not halt and _changes_task(t, number):
                    recheck.append(t.identifier)
            for ident in externally_affected.get(change.stack, ()) if number == 1 else ():
                live = state.tasks.get(ident)
                if live is not None and live.status in RUNNING and ident not in stop:
                    stop.append(ident)
                    start.append(P.TaskStart(ident, P.RESUME_PROCESSING))
            action = change.action if change.action != P.NONE else (P.UPDATE if number == 2 else P.NONE)
            if action == P.NONE and not (stop or start):
                continue
            wave = DEFAULT_WAVE.get(change.kind, 1)
            if number == 1:
                wave = first_step_waves.get(change.stack, wave)
            stack_steps.append(P.StackStep(stack=change.stack, action=action,
                                           template_sha256=None if action in (P.DELETE, P.NONE) else sha,
                                           stop=tuple(stop), start=tuple(start), wait_dropped=tuple(wait),
                                           wave=wave, capture_checkpoint=tuple(capture),
                                           recheck=tuple(recheck), test_connections=tuple(test)))
        if stack_steps:
            desc = ("remove reloaded tables' old versions and replaced tasks (and every other change)"
                    if two_step and number == 1
                    else "add reloaded tables' new versions and create replaced tasks anew" if number == 2
                    else "deploy every change")
            stack_steps.sort(key=lambda st: st.wave)  # stable: base, then teams by name
            steps.append(P.Step(number=number, description=desc, stacks=tuple(stack_steps)))
    return tuple(steps)
