"""What the text and Markdown renderers share: symbols, the summary and verdict lines, the warnings.

Everything here is a pure function of the Plan and returns plain (unescaped, uncoloured) text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dmsctl.deployer.plan import (
    ADD,
    CREATE,
    DELETE,
    NONE,
    PAUSE,
    PAUSE_TASK,
    RELOAD,
    REMOVE,
    REPLACE,
    RESUME,
    UPDATE,
    Check,
    Impact,
    Plan,
    StackChange,
    Summary,
    TableChange,
    TaskChange,
)

# One mark per kind of change, used by the text renderer (the Markdown diff has its own first column).
SYMBOLS = {CREATE: "+", ADD: "+", DELETE: "-", REMOVE: "-", UPDATE: "~", REPLACE: "-/+",
           RELOAD: "↻", PAUSE: "‖", RESUME: "▶", NONE: " "}

NO_CHANGES = "No changes. DMS matches the configuration."
# No step, but checks were raised (drift, a stack in a bad state...): DMS need not match the configuration.
NOTHING_TO_DEPLOY = "No changes to deploy, but see the checks."


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def names(items: list[str], limit: int | None = None) -> str:
    """'a, b, c', or 'a, b and 3 more' when more than `limit`."""
    if limit is None or len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def title(plan: Plan) -> str:
    return f"dmsctl plan: {plan.env} ({plan.account_id}, {plan.region})"


def blocking(plan: Plan) -> list[Check]:
    return [c for c in plan.checks if c.blocks]


def verdict(plan: Plan) -> str:
    n = len(blocking(plan))
    return "GO" if n == 0 else f"NO-GO ({plural(n, 'blocking check')})"


def ordered_checks(plan: Plan) -> list[Check]:
    """Errors first, otherwise in the planner's order."""
    return sorted(plan.checks, key=lambda c: not c.blocks)


def summary_line(plan: Plan) -> str:
    """`Plan: 2 steps; 1 stack to update; 3 tasks to update, 1 to replace; 5 tables to add, 2 tasks stopped.`

    Only non-zero counts; `No changes. …` when there is no step (and no check says otherwise).
    """
    if not plan.has_changes:
        return NOTHING_TO_DEPLOY if plan.checks else NO_CHANGES
    s: Summary = plan.summary
    groups = [
        _group("stack", [(s.stacks_to_create, "create"), (s.stacks_to_update, "update"),
                         (s.stacks_to_delete, "delete")]),
        _group("task", [(s.tasks_to_create, "create"), (s.tasks_to_update, "update"),
                        (s.tasks_to_replace, "replace"), (s.tasks_to_delete, "delete")]),
        _group("table", [(s.tables_to_add, "add"), (s.tables_to_reload, "reload"),
                         (s.tables_to_remove, "remove"),
                         (s.tables_to_pause, "pause"), (s.tables_to_resume, "resume")]),
    ]
    groups = [g for g in groups if g]
    if s.tasks_to_stop:
        stopped = f"{plural(s.tasks_to_stop, 'task')} stopped"
        groups[-1:] = [f"{groups[-1]}, {stopped}"] if groups else [stopped]
    if s.tasks_to_reload:
        unknown = f" and {plural(s.rows_unknown, 'table')} without statistics" if s.rows_unknown else ""
        rows = f"{s.rows_to_reload:,} row{'' if s.rows_to_reload == 1 else 's'}"
        groups.append(f"{plural(s.tasks_to_reload, 'task')} reloading {rows}{unknown}")
    if s.tasks_to_resume:
        groups.append(f"{plural(s.tasks_to_resume, 'stopped task')} resumed")
    if s.tasks_held:
        groups.append(f"{plural(s.tasks_held, 'task')} held (left stopped)")
    return f"Plan: {'; '.join([plural(s.steps, 'step')] + groups)}."


def _group(noun: str, counts: list[tuple[int, str]]) -> str:
    parts: list[str] = []
    for n, verb in counts:
        if n:
            parts.append(f"{plural(n, noun)} to {verb}" if not parts else f"{n} to {verb}")
    return ", ".join(parts)


def changed_stacks(plan: Plan) -> list[StackChange]:
    return [s for s in plan.stacks if s.action != NONE or s.resources or any(t.changed for t in s.tasks)]


def task_symbol(task: TaskChange) -> str:
    if task.action != NONE:
        return SYMBOLS[task.action]
    return SYMBOLS[task.run_change] if task.run_change else SYMBOLS[UPDATE]


def impact_text(impact: Impact) -> str:
    """`reload of 2 tables, 1,200 rows`: the label, then the estimate when there is one."""
    return f"{impact.label}, {impact.estimate}" if impact.estimate else impact.label


def task_label(task: TaskChange) -> str:
    return f"task {task.task} ({task.identifier})"


def replacement_warning(task: TaskChange) -> str:
    if task.keeps_checkpoint:
        return (f"task {task.identifier} will be REPLACED: the new task continues from the old task's recovery "
                "checkpoint (CDC), no table reloads")
    if task.restart_reloads_all:
        return (f"task {task.identifier} will be REPLACED: every one of its "
                f"{plural(task.table_count, 'table')} reloads from scratch")
    return f"task {task.identifier} will be REPLACED (deleted and created again)"


def table_versions(change: TableChange) -> str:
    if change.kind == RELOAD:
        return f"{change.old_version or '(interrupted reload)'} -> {change.new_version}"
    if change.kind in (ADD, RESUME):
        return change.new_version or change.old_version or ""
    return change.old_version or change.new_version or ""


def _all_tasks(plan: Plan) -> Iterable[tuple[StackChange, TaskChange]]:
    for stack in plan.stacks:
        for task in stack.tasks:
            yield stack, task


def _tables(plan: Plan, kind: str) -> list[str]:
    return [f"{t.name} in {task.identifier}" for stack, task in _all_tasks(plan)
            if stack.action != DELETE and task.action != DELETE for t in task.tables if t.kind == kind]


def stopped_tasks(plan: Plan) -> list[str]:
    seen: dict[str, None] = {}
    for step in plan.steps:
        for stack_step in step.stacks:
            seen.update(dict.fromkeys(stack_step.stop))
    return list(seen)


def disruptions(plan: Plan, limit: int | None = None) -> list[tuple[bool, str]]:
    """The warnings block: disruptive changes, most disruptive first, as (loud, text).

    `limit` caps the names listed per line and the number of loud lines (the Markdown comment).
    """
    loud = _loud(plan, limit)
    if limit is not None and len(loud) > limit:
        loud = loud[:limit] + [f"… and {len(loud) - limit} more disruptive changes"]
    return [(True, w) for w in loud] + [(False, w) for w in _quiet(plan, limit)]


def _loud(plan: Plan, limit: int | None) -> list[str]:
    """Replacements, deletions and blocking checks: shouted."""
    loud = [replacement_warning(task) for _, task in _all_tasks(plan) if task.action == REPLACE]
    for stack in plan.stacks:
        if stack.action == DELETE:
            n = sum(1 for t in stack.tasks if t.action == DELETE)
            with_tasks = f" with its {plural(n, 'task')}" if n else ""
            loud.append(f"stack {stack.stack} will be DELETED{with_tasks}")
        else:
            loud += [f"task {t.identifier} will be DELETED: its tables stop replicating"
                     for t in stack.tasks if t.action == DELETE]
    blockers = blocking(plan)
    if blockers:
        codes = list(dict.fromkeys(c.code for c in blockers))
        loud.append(f"{plural(len(blockers), 'blocking check')} ({names(codes, limit)}): see Checks")
    return loud


def _quiet(plan: Plan, limit: int | None) -> list[str]:
    """Reloads, removals, paused tasks and tasks stopped for the deploy: worth knowing."""
    quiet = []
    for kind, what in ((RELOAD, "to reload from scratch (a full load into a new S3 prefix)"),
                       (REMOVE, "to remove (replication stops; the data in S3 stays)")):
        tables = _tables(plan, kind)
        if tables:
            quiet.append(f"{plural(len(tables), 'table')} {what}: {names(tables, limit)}")
    paused = [t.identifier for _, t in _all_tasks(plan) if t.run_change == PAUSE_TASK]
    if paused:
        quiet.append(f"{plural(len(paused), 'task')} will be PAUSED (stopped until resumed): "
                     f"{names(paused, limit)}")
    stopped = [t for t in stopped_tasks(plan) if t not in paused]
    if stopped:
        quiet.append(f"{plural(len(stopped), 'task')} stopped for the deploy: {names(stopped, limit)}")
    return quiet


_ACK_FLAG = re.compile(r"acknowledge with (--allow-[a-z]+)")
ACK_NAMES = {"--allow-replace": "replace", "--allow-delete": "delete", "--allow-drift": "drift",
             "--allow-interrupt": "interrupt"}


def acknowledged(plan: Plan) -> list[str]:
    """One line per acknowledgement the plan was made with: the flag, where it came from, why."""
    return [f"{a.flag} from {a.source}" + (f" ({a.reason})" if a.reason else "") for a in plan.acknowledgements]


def acknowledgement_entry(plan: Plan) -> list[str]:
    """The configs/acknowledgements.yaml entry that would acknowledge this no-go plan from a pull request
    (YAML lines), or [] when no blocking check can be acknowledged or the plan has no base checksum."""
    flags = sorted({m.group(1) for c in blocking(plan) for m in [_ACK_FLAG.search(c.hint)] if m})
    if not flags or plan.base_checksum is None:
        return []
    return ["acknowledgements:", f"  - env: {plan.env}", f"    plan: {plan.base_checksum[:12]}",
            f"    allow: [{', '.join(ACK_NAMES[f] for f in flags if f in ACK_NAMES)}]",
            '    reason: "<why this is wanted>"']
