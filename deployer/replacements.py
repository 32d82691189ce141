"""A change set checked against the plan before anything is stopped (P150).

The plan predicts replacements client-side (create-only properties, diff.py); CloudFormation decides.
Before apply stops a stack's tasks it reads the change set's Changes: a resource CloudFormation would
replace (`Replacement` "True", or "Conditional": it may) that the plan neither replaces nor creates is
refused, naming the resource and the properties that require recreation (`Details[].Target.Name`).
Pure: no AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import _tasks_in
from dmsctl.deployer.errors import DmsctlError

REPLACING = ("True", "Conditional")


class UnexpectedReplacement(DmsctlError):
    pass


def planned_replacements(plan: P.Plan, stack: str, template: dict[str, Any]) -> frozenset[str]:
    """Logical ids of `template` (the one this step deploys) the plan replaces or creates in `stack`."""
    change = next((c for c in plan.stacks if c.stack == stack), None)
    if change is None:
        return frozenset()
    ids = {r.logical_id for r in change.resources if r.action in (P.REPLACE, P.CREATE)}
    tasks = _tasks_in(template)
    ids |= {tasks[t.identifier][0] for t in change.tasks
            if t.action in (P.REPLACE, P.CREATE) and t.identifier in tasks}
    return frozenset(ids)


def unexpected(changes: Iterable[dict[str, Any]], allowed: frozenset[str]) -> list[str]:
    """One line per resource the change set would replace that is not in `allowed`."""
    out = []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        if rc.get("Action") != "Modify" or rc.get("Replacement") not in REPLACING:
            continue
        lid = rc.get("LogicalResourceId", "")
        if lid in allowed:
            continue
        out.append(f"{lid} ({rc.get('ResourceType', '?')}{_physical(rc)}): Replacement {rc['Replacement']}, "
                   f"{_because(rc.get('Details') or [])}")
    return out


def check(changes: Iterable[dict[str, Any]], allowed: frozenset[str], stack: str) -> None:
    lines = unexpected(changes, allowed)
    if lines:
        raise UnexpectedReplacement(
            f"P150: stack {stack}: CloudFormation's change set would replace what the plan does not replace:\n"
            + "\n".join(f"  {line}" for line in lines)
            + "\nRefused before anything was stopped: the change set was deleted, nothing was changed. Plan again "
              "(a replacement the plan shows needs --allow-replace); if the plan still shows no replacement, "
              "report it: dmsctl predicted this update wrongly")


def _physical(rc: dict[str, Any]) -> str:
    return f", {rc['PhysicalResourceId']}" if rc.get("PhysicalResourceId") else ""


def _because(details: list[dict[str, Any]]) -> str:
    """The properties whose change requires recreation, with what causes a dynamic one."""
    names = []
    for d in details:
        target = d.get("Target") or {}
        if target.get("RequiresRecreation") not in ("Always", "Conditionally") or not target.get("Name"):
            continue
        cause = f" (via {d['CausingEntity']})" if d.get("CausingEntity") else ""
        names.append(f"{target['Name']}{cause}")
    names = list(dict.fromkeys(names))
    if not names:
        return "no property named in the change set's details"
    return ("properties " if len(names) > 1 else "property ") + ", ".join(names) + " require" + \
        ("" if len(names) > 1 else "s") + " recreation"
