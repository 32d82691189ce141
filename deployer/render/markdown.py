"""The pull-request comment: verdict and summary first, warnings, steps, one collapsed section per
stack with a `diff` block (GitHub colours it), then the checks table.

The result never exceeds `limit` characters (GitHub caps a comment at 65,536): when the whole plan
does not fit, the steps are abbreviated, stack sections are dropped from the end, and a note points
to the full plan.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from dmsctl.deployer.plan import NONE, Check, Plan, StackChange, StackStep, Step
from dmsctl.deployer.render.common import (
    acknowledged,
    acknowledgement_entry,
    changed_stacks,
    disruptions,
    ordered_checks,
    plural,
    summary_line,
    title,
    verdict,
)
from dmsctl.deployer.render.text import stack_lines

DEFAULT_HINT = "the plan.json artifact of this run"
NAMES_LIMIT = 10  # names listed per warning line before "and N more"
# First column of a ```diff line, from the text renderer's mark: + green, - red, ! orange.
_DIFF = {"+": "+", "-": "-", "-/+": "-", "~": "!", "↻": "!", "‖": "!", "▶": "+", "!!": "!"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def marker(env: str) -> str:
    """The hidden first line that lets CI find and update its own (sticky) comment."""
    return f"<!-- dmsctl-plan:{env.replace('--', '-')} -->"


def render_markdown(plan: Plan, artifact_hint: str = DEFAULT_HINT, limit: int = 65_536) -> str:
    head = _head(plan)
    stacks = changed_stacks(plan)
    checks = _checks(ordered_checks(plan))
    full = _everything(head, _steps(plan), stacks, checks, limit)
    return full if full is not None else _abbreviated(plan, head, stacks, artifact_hint, limit)


def escape(text: str) -> str:
    """Plain text made inert in Markdown (and in a table cell): HTML, emphasis, code, pipes."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return text.replace("\r", "").replace("\n", "<br>")


def code(text: str) -> str:
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _join(blocks: list[str]) -> str:
    return "\n\n".join(blocks) + "\n"


def _head(plan: Plan) -> str:
    icon = "✅" if plan.go else "⛔"
    lines = [marker(plan.env), f"### {escape(title(plan))}", "",
             f"**{icon} {escape(verdict(plan))}**: {escape(summary_line(plan))}"]
    found = disruptions(plan, NAMES_LIMIT)
    if found:
        lines += ["", "**Warnings**", ""]
        lines += [f"- ⚠️ **{escape(text)}**" if loud else f"- {escape(text)}" for loud, text in found]
    lines += _acknowledgements(plan)
    return "\n".join(lines)


def _acknowledgements(plan: Plan) -> list[str]:
    """The checksum, what the plan was acknowledged with, and how to acknowledge it from this pull request."""
    lines = ["", f"Plan {code(plan.checksum[:12])} (`dmsctl apply --plan` applies only this plan)"]
    made = acknowledged(plan)
    if made:
        lines += ["", "**Acknowledged**", ""] + [f"- {escape(line)}" for line in made]
    entry = acknowledgement_entry(plan)
    if entry:
        lines += ["", "To acknowledge this plan from the pull request, a platform reviewer adds to "
                  "`configs/acknowledgements.yaml` (an entry applies to this plan only):", "", "```yaml", *entry, "```"]
    return lines


def _steps(plan: Plan, short: bool = False) -> list[str]:
    render = _step_short if short else _step_full
    return [render(step, len(plan.steps)) for step in plan.steps]


def _step_title(step: Step, total: int) -> str:
    return f"**Step {step.number} of {total}**: {escape(step.description)}"


def _step_full(step: Step, total: int) -> str:
    return "\n".join([_step_title(step, total)] + [f"- {_stack_step(ss)}" for ss in step.stacks])


def _stack_step(ss: StackStep) -> str:
    parts = [f"stop {', '.join(code(t) for t in ss.stop)}"] if ss.stop else []
    template = f" (template {code(ss.template_sha256[:12])})" if ss.template_sha256 else ""
    parts.append("**keep** (template unchanged: not deployed)" if ss.action == NONE
                 else f"**{ss.action}**{template}")
    if ss.start:
        parts.append(", ".join(f"{'resume' if s.start_type == 'resume-processing' else 'start'} "
                               f"{code(s.identifier)} ({s.start_type}"
                               f"{', from the replaced task' + chr(39) + 's checkpoint' if s.from_checkpoint else ''})"
                               for s in ss.start))
    if ss.wait_dropped:
        dropped = ", ".join(code(t) for t in ss.wait_dropped)
        parts.append(f"wait until dropped from the table statistics: {dropped}")
    return f"{code(ss.stack)}: " + " → ".join(parts)


def _step_short(step: Step, total: int) -> str:
    actions = Counter(ss.action for ss in step.stacks)
    verbs = {NONE: "keep"}
    parts = [", ".join(f"{verbs.get(verb, verb)} {plural(n, 'stack')}" for verb, n in sorted(actions.items()))]
    stopped, started, dropped = (sum(len(getattr(ss, attr)) for ss in step.stacks)
                                 for attr in ("stop", "start", "wait_dropped"))
    parts += [f"stop {plural(stopped, 'task')}"] if stopped else []
    parts += [f"start or resume {plural(started, 'task')}"] if started else []
    parts += [f"wait for {plural(dropped, 'table')} to leave the table statistics"] if dropped else []
    return f"{_step_title(step, total)} — {'; '.join(parts)}"


def section(stack: StackChange) -> str:
    """One collapsed stack: the text renderer's lines, each mark copied to the diff column."""
    lines = _diff_lines(stack)
    return _wrap(stack, lines, _fence(lines))


def _shortened(stack: StackChange, budget: int) -> str | None:
    """The section cut to `budget` characters at a line boundary, or None if not even a line fits."""
    lines = _diff_lines(stack)
    fence = _fence(lines)
    size = len(_wrap(stack, [_more(len(lines))], fence))
    kept = 0
    while kept < len(lines) and size + len(lines[kept]) + 1 <= budget:
        size += len(lines[kept]) + 1
        kept += 1
    return _wrap(stack, lines[:kept] + [_more(len(lines) - kept)], fence) if kept else None


def _more(n: int) -> str:
    return f"  … {plural(n, 'more line')}: see the full plan"


def _diff_lines(stack: StackChange) -> list[str]:
    return [_diff_line(line) for line in stack_lines(stack)[1:]]


def _fence(lines: list[str]) -> str:
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _wrap(stack: StackChange, lines: list[str], fence: str) -> str:
    owner = f"team {stack.team}" if stack.team else stack.kind
    n = sum(1 for t in stack.tasks if t.changed)
    what = ", ".join([stack.action] + ([plural(n, "task") + " changed"] if n else []))
    body = "\n".join(lines)
    return (f"<details><summary>{html.escape(owner)}: <code>{html.escape(stack.stack)}</code> "
            f"({html.escape(what)})</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>")


def _diff_line(line: str) -> str:
    body = line[4:]
    token = body.lstrip(" ").split(" ", 1)[0]
    return _DIFF.get(token, " ") + body[1:]


def _checks(checks: list[Check], budget: int | None = None) -> str:
    """The checks table; with a budget, rows that do not fit are counted in a last row instead."""
    if not checks:
        return "**Checks**: none raised."
    lines = ["**Checks**", "", "| code | severity | message |", "|---|---|---|"]
    size = sum(len(line) + 1 for line in lines)
    if budget is not None and size + 80 > budget:
        return f"**Checks**: {plural(len(checks), 'check')}, listed in the full plan."
    for i, check in enumerate(checks):
        row = _check_row(check)
        if budget is not None and size + len(row) + 1 + 80 > budget:
            lines.append(f"| … | | {plural(len(checks) - i, 'more check')} in the full plan |")
            break
        lines.append(row)
        size += len(row) + 1
    return "\n".join(lines)


def _check_row(check: Check) -> str:
    severity = f"⛔ {check.severity.value}" if check.blocks else f"⚠️ {check.severity.value}"
    if check.acknowledged_by:
        severity += f" (acknowledged by {escape(check.acknowledged_by)})"
    where = f"{escape(check.location())}: " if check.location() else ""
    text = check.message + (f"; {check.hint}" if check.hint else "")
    return f"| {escape(check.code)} | {severity} | {where}{escape(text)} |"


def _everything(head: str, steps: list[str], stacks: list[StackChange], checks: str,
                limit: int) -> str | None:
    """The full comment, or None as soon as it is known not to fit (sections are rendered lazily)."""
    blocks = [head, *steps]
    size = sum(len(b) + 2 for b in blocks) + len(checks) + 1
    for stack in stacks:
        blocks.append(section(stack))
        size += len(blocks[-1]) + 2
        if size > limit:
            return None
    return _join(blocks + [checks]) if size <= limit else None


def _abbreviated(plan: Plan, head: str, stacks: list[StackChange], hint: str, limit: int) -> str:
    fixed = [head, *_steps(plan, short=True)]
    used = sum(len(b) + 2 for b in fixed) + len(_note(len(stacks), 1, hint)) + 3
    checks = _checks(ordered_checks(plan), budget=max(0, limit - used))
    used += len(checks) + 2
    kept: list[str] = []
    shortened = 0
    for stack in stacks:
        text = section(stack)
        if used + len(text) + 2 > limit:
            short = _shortened(stack, limit - used - 2)
            if short:
                kept.append(short)
                shortened = 1
            break
        kept.append(text)
        used += len(text) + 2
    result = _join(fixed + kept + [checks, _note(len(stacks) - len(kept), shortened, hint)])
    if len(result) > limit:  # only when even the head does not fit: cut hard, keep the note
        note = "\n\n" + _note(len(stacks), 0, hint) + "\n"
        cut = max(0, limit - len(note))
        result = result[: max(0, result.rfind("\n", 0, cut))] + note
    return result[:limit]


def _note(omitted: int, shortened: int, hint: str) -> str:
    cut = f", {shortened} shortened" if shortened else ""
    return f"_… {plural(omitted, 'section')} omitted{cut}: the full plan is in {hint}._"
