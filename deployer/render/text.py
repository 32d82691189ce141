"""The terminal rendering of a Plan, in the spirit of `terraform plan`.

Marks: `+` add/create, `-` remove/delete, `~` update, `-/+` replace, `↻` table reload,
`‖` pause, `▶` resume. Colour (ANSI) only when asked: the CLI decides, this module never looks.
"""

from __future__ import annotations

from dmsctl.compiler.findings import format_line
from dmsctl.deployer.plan import (
    NONE,
    PAUSE_TASK,
    REPLACE,
    RESUME_PROCESSING,
    Plan,
    ResourceChange,
    StackChange,
    StackStep,
    Step,
    TaskChange,
    ValueChange,
)
from dmsctl.deployer.render.common import (
    SYMBOLS,
    acknowledged,
    acknowledgement_entry,
    changed_stacks,
    disruptions,
    impact_text,
    ordered_checks,
    plural,
    replacement_warning,
    summary_line,
    table_versions,
    task_label,
    task_symbol,
    title,
    verdict,
)

_COLOURS = {"+": "32", "-": "31", "~": "33", "-/+": "35", "↻": "36", "‖": "33", "▶": "32"}
_LOUD = "1;31"


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str | None) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code and text else text

    def mark(self, symbol: str, width: int = 0) -> str:
        return self(symbol, _COLOURS.get(symbol)) + " " * max(0, width - len(symbol))

    def bold(self, text: str) -> str:
        return self(text, "1")


def render_text(plan: Plan, color: bool = False) -> str:
    """The whole plan for a terminal: warnings, changes, steps, checks, verdict and summary."""
    paint = _Paint(color)
    blocks = [[paint.bold(title(plan))], _warnings(plan, paint), _changes(plan, paint),
              *(_step(step, len(plan.steps), paint) for step in plan.steps),
              _checks(plan, paint), _footer(plan, paint)]
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


def _warnings(plan: Plan, paint: _Paint) -> list[str]:
    found = disruptions(plan)
    if not found:
        return []
    lines = [paint.bold("Warnings:")]
    for loud, text in found:
        lines.append("  " + (paint(f"!! {text}", _LOUD) if loud else f"!  {text}"))
    return lines


def _changes(plan: Plan, paint: _Paint) -> list[str]:
    stacks = changed_stacks(plan)
    if not stacks:
        return []
    lines = [paint.bold("Changes:")]
    for stack in stacks:
        lines += _stack(stack, paint)
    return lines


def stack_lines(stack: StackChange, color: bool = False) -> list[str]:
    """One stack's block (header, tasks, tables, resources); the Markdown renderer reuses it uncoloured."""
    return _stack(stack, _Paint(color))


def _stack(stack: StackChange, paint: _Paint) -> list[str]:
    owner = f"team {stack.team}" if stack.team else stack.kind
    live = f"  [live: {stack.status}]" if stack.status else ""
    lines = [f"  {paint.mark(SYMBOLS[stack.action] if stack.action != NONE else '~')} "
             f"{paint.bold(f'stack {stack.stack}')} ({owner}): {_word(stack.action)}{live}"]
    changed = [t for t in stack.tasks if t.changed]
    for task in changed:
        lines += _task(task, paint)
    for r in stack.resources:
        lines += _resource(r, paint)
    unchanged = len(stack.tasks) - len(changed)
    if unchanged:
        lines.append(f"      ({plural(unchanged, 'task')} unchanged)")
    return lines


def _word(action: str) -> str:
    return "no change" if action == NONE else action


def _task(task: TaskChange, paint: _Paint) -> list[str]:
    action = task.action if task.action != NONE else (task.run_change or "update")
    live = f"  [live: {task.live_status}]" if task.live_status else ""
    lines = [f"      {paint.mark(task_symbol(task))} {task_label(task)}: {action}{live}"]
    if task.impact is not None:
        lines.append(f"          impact: {impact_text(task.impact)}")
    if task.action == REPLACE:
        lines.append("          " + paint(f"!! {replacement_warning(task)}", _LOUD))
    lines += [f"          reason: {reason}" for reason in task.reasons]
    lines += _values(task.values, paint)
    if task.run_change:
        paused = task.run_change == PAUSE_TASK
        what = "the task is stopped and stays stopped" if paused else "the task runs again"
        lines.append(f"          {paint.mark(SYMBOLS[task.run_change])} {task.run_change}: {what}")
    lines += _tables(task, paint)
    return lines


def _tables(task: TaskChange, paint: _Paint) -> list[str]:
    if not task.tables:
        return []
    name_w = max(len(t.name) for t in task.tables)
    ver_w = max(len(table_versions(t)) for t in task.tables)
    lines = []
    for t in task.tables:
        where = f"  s3: {t.s3_prefix}" if t.s3_prefix else ""
        line = f"{t.name:<{name_w}}  {t.kind:<6}  {table_versions(t):<{ver_w}}{where}"
        lines.append(f"          {paint.mark(SYMBOLS[t.kind])} {line.rstrip()}")
    return lines


def _values(values: tuple[ValueChange, ...], paint: _Paint) -> list[str]:
    """`~ path: old -> new`; a value only one side has: `+ path: new` / `- path: old`."""
    lines = []
    for v in values:
        if v.old is None:
            lines.append(f"          {paint.mark('+')} {v.path}: {v.new}")
        elif v.new is None:
            lines.append(f"          {paint.mark('-')} {v.path}: {v.old} (removed)")
        else:
            lines.append(f"          {paint.mark('~')} {v.path}: {v.old} -> {v.new}")
    return lines


def _resource(res: ResourceChange, paint: _Paint) -> list[str]:
    mark = paint.mark(SYMBOLS[res.action])
    what = (f"{res.name} ({res.logical_id}, {res.resource_type})" if res.name and res.name != res.logical_id
            else f"resource {res.logical_id} ({res.resource_type})")
    return [f"      {mark} {what}: {res.action}", *_values(res.values, paint)]


def _step(step: Step, total: int, paint: _Paint) -> list[str]:
    lines = [paint.bold(f"Step {step.number} of {total}: {step.description}")]
    for stack_step in step.stacks:
        lines += [f"  {stack_step.stack}"] + _stack_step(stack_step, paint)
    return lines


def _stack_step(ss: StackStep, paint: _Paint) -> list[str]:
    lines = [f"    stop    {task}" for task in ss.stop]
    lines += [f"    capture {task} recovery checkpoint (into the state table)" for task in ss.capture_checkpoint]
    if ss.action == NONE:  # only tasks stop or start: the template is unchanged
        lines.append(f"    {'keep':<7} {ss.stack} (template unchanged: not deployed)")
    else:
        template = f" (template {ss.template_sha256[:12]})" if ss.template_sha256 else ""
        verb = paint(f"{ss.action:<7}", _COLOURS.get(SYMBOLS.get(ss.action, "")))
        lines.append(f"    {verb} {ss.stack}{template}")
    for start in ss.start:
        verb = "resume" if start.start_type == RESUME_PROCESSING else "start"
        where = ", from the replaced task's checkpoint" if start.from_checkpoint else ""
        lines.append(f"    {verb:<7} {start.identifier} ({start.start_type}{where})")
    if ss.wait_dropped:
        lines.append("    wait    until dropped from the table statistics before the next step: "
                     + ", ".join(ss.wait_dropped))
    return lines


def _checks(plan: Plan, paint: _Paint) -> list[str]:
    checks = ordered_checks(plan)
    if not checks:
        return [f"{paint.bold('Checks:')} none raised."]
    lines = [paint.bold("Checks:")]
    for check in checks:  # the line every finding gets (compiler/findings.py), after a mark
        mark = paint("✗", "31") if check.blocks else paint("!", "33")
        lines.append(f"  {mark} {format_line(check)}")
    return lines


def _footer(plan: Plan, paint: _Paint) -> list[str]:
    lines = [paint(f"Verdict: {verdict(plan)}", "1;32" if plan.go else "1;31"), summary_line(plan)]
    lines += [f"Acknowledged: {line}" for line in acknowledged(plan)]
    entry = acknowledgement_entry(plan)
    if entry:
        lines += ["To acknowledge it from a pull request, add to configs/acknowledgements.yaml (platform review):",
                  *(f"  {line}" for line in entry)]
    return lines

