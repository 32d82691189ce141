"""Resource-level stack operations on moto's ResourceMap: create, update with rollback, delete.

Order follows CloudFormation: resources are created/updated in dependency order
(Ref, Fn::GetAtt, Fn::Sub, DependsOn); a failure rolls every change back; resources that
were removed or replaced are deleted only in the cleanup phase after success, and a
cleanup failure leaves the resource behind without failing the update.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.parsing import clean_json, parse_and_update_resource

from .model import SandboxModel


class StackOperationFailed(Exception):
    def __init__(self, reason: str, logical_id: str | None = None, resource_type: str | None = None,
                 physical_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.physical_id = physical_id
        self.rollback_failures: list[CleanupFailure] = []  # resources the rollback could not restore


@dataclass(frozen=True)
class CleanupFailure:
    logical_id: str
    resource_type: str
    physical_id: str | None
    reason: str


@dataclass(frozen=True)
class JournalEntry:
    action: str  # add | modify | replace
    logical_id: str
    old: Any = None
    new: Any = None


@dataclass
class _Snapshot:
    template: dict[str, Any]
    json_map: dict[str, Any]
    input_parameters: dict[str, Any]
    parsed: dict[str, Any]
    props: dict[str, Any]
    journal: list[JournalEntry] = field(default_factory=list)


def handler_message(exc: Exception) -> str:
    """CloudFormation's wording for a resource handler error (ASSUMPTIONS A12)."""
    code = getattr(exc, "error_type", None)
    message = getattr(exc, "message", None) or str(exc)
    service = getattr(exc, "service", None) or "DatabaseMigration"
    if code:
        return (f'Resource handler returned message: "{code}: {message} (Service: {service}, '
                f'Status Code: 400)" (HandlerErrorCode: InvalidRequest)')
    return message


# --- dependencies ------------------------------------------------------------------------------
def _refs(node: Any, names: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                if target in names:
                    found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)} & names
                found |= _refs(value[1] if isinstance(value, list) else None, names)
            else:
                found |= _refs(value, names)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item, names)
    return found


def dependency_order(resources: dict[str, Any]) -> list[str]:
    names = set(resources)
    deps: dict[str, set[str]] = {}
    for name, body in resources.items():
        depends = body.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        deps[name] = (_refs(body.get("Properties", {}), names) | (set(depends) & names)) - {name}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(n: str) -> None:
        if n in order or n in visiting:
            return
        visiting.add(n)
        for d in sorted(deps[n]):
            visit(d)
        visiting.discard(n)
        order.append(n)

    for n in resources:
        visit(n)
    return order


# --- helpers on moto's ResourceMap --------------------------------------------------------------
def _load(rm: Any, template: dict[str, Any], parameters: dict[str, Any]) -> None:
    rm._template = template
    rm.input_parameters = parameters
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()
    rm._resource_json_map = template.get("Resources", {})


def _enabled(rm: Any, body: dict[str, Any]) -> bool:
    cond = body.get("Condition")
    return not cond or bool(rm.lazy_condition_map[cond])


def resolved_properties(rm: Any, logical_id: str) -> Any:
    body = rm._resource_json_map[logical_id]
    return clean_json(copy.deepcopy(body.get("Properties") or {}), rm)


def _is_model(value: Any) -> bool:
    return hasattr(value, "logical_resource_id") or isinstance(value, SandboxModel)


def _delete(rm: Any, resource: Any, body: dict[str, Any]) -> None:
    rm._delete_resource(resource, body)


def _physical(resource: Any) -> str | None:
    return getattr(resource, "physical_resource_id", None)


# --- operations ------------------------------------------------------------------------------------
def create_all(stack: Any) -> None:
    rm = stack.resource_map
    template = stack.template_dict
    rm._template = template
    rm._resource_json_map = template.get("Resources", {})
    rm.tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id})
    props: dict[str, Any] = {}
    for name in dependency_order(rm._resource_json_map):
        body = rm._resource_json_map[name]
        if not _enabled(rm, body):
            continue
        try:
            resource = rm[name]
            if resource is not None:
                props[name] = resolved_properties(rm, name)
        except Exception as exc:  # noqa: BLE001 - any handler error fails the stack
            raise StackOperationFailed(handler_message(exc), name, body.get("Type")) from exc
    stack.sandbox_props = props


def delete_all(stack: Any) -> list[CleanupFailure]:
    rm = stack.resource_map
    failures = []
    for name in reversed(dependency_order(rm._resource_json_map)):
        resource = rm._parsed_resources.get(name)
        body = rm._resource_json_map[name]
        if not _is_model(resource) or body.get("DeletionPolicy") == "Retain":
            continue
        try:
            _delete(rm, resource, body)
            rm._parsed_resources.pop(name, None)
        except Exception as exc:  # noqa: BLE001
            failures.append(CleanupFailure(name, body.get("Type", ""), _physical(resource), handler_message(exc)))
    return failures


def apply_update(
    stack: Any,
    template: dict[str, Any],
    parameters: dict[str, Any],
    account_id: str,
    region: str,
    before_commit: Callable[[], None] | None = None,
    fail_restore: Callable[[str], str | None] | None = None,
) -> list[CleanupFailure]:
    """Move the stack's resources to ``template``; on failure restore them and raise (with the resources
    the rollback could not restore in ``rollback_failures``). ``fail_restore(logical_id)`` may return a
    reason for which the rollback cannot restore that resource (fault injection)."""
    rm = stack.resource_map
    snap = _Snapshot(
        template=rm._template, json_map=rm._resource_json_map, input_parameters=dict(rm.input_parameters),
        parsed=dict(rm._parsed_resources), props=dict(getattr(stack, "sandbox_props", {})),
    )
    props = dict(snap.props)
    current: str | None = None
    try:
        _load(rm, template, parameters)
        for current in dependency_order(rm._resource_json_map):
            body = rm._resource_json_map[current]
            if not _enabled(rm, body):
                continue
            existing = snap.parsed.get(current)
            old_body = snap.json_map.get(current)
            if not _is_model(existing) or old_body is None or old_body.get("Type") != body.get("Type"):
                rm._parsed_resources.pop(current, None)
                new = rm[current]
                kind = "replace" if _is_model(existing) else "add"
                snap.journal.append(JournalEntry(kind, current, existing if kind == "replace" else None, new))
                props[current] = resolved_properties(rm, current)
                continue
            new_props = resolved_properties(rm, current)
            if new_props == snap.props.get(current):
                continue
            new = parse_and_update_resource(current, body, rm, account_id, region)
            if new is None:
                continue
            rm._parsed_resources[current] = new
            kind = "replace" if (new is not existing and isinstance(new, SandboxModel)) else "modify"
            snap.journal.append(JournalEntry(kind, current, existing, new))
            props[current] = new_props
        current = None
        if before_commit:
            before_commit()
    except Exception as exc:  # noqa: BLE001
        failed_body = rm._resource_json_map.get(current, {}) if current else {}
        unrestored = _rollback(stack, snap, account_id, region, fail_restore)
        failure = exc if isinstance(exc, StackOperationFailed) else StackOperationFailed(
            handler_message(exc), current, failed_body.get("Type"))
        failure.rollback_failures = unrestored
        if failure is exc:
            raise
        raise failure from exc
    return _cleanup(stack, snap, props)


def _rollback(stack: Any, snap: _Snapshot, account_id: str, region: str,
              fail_restore: Callable[[str], str | None] | None = None) -> list[CleanupFailure]:
    """Undo the journal, newest change first. A resource that cannot be restored is reported (the stack
    then ends UPDATE_ROLLBACK_FAILED); the others are still restored."""
    rm = stack.resource_map
    failures: list[CleanupFailure] = []
    _load(rm, snap.template, snap.input_parameters)
    rm._parsed_resources.clear()
    rm._parsed_resources.update(snap.parsed)
    for entry in reversed(snap.journal):
        try:
            injected = fail_restore(entry.logical_id) if fail_restore else None
            if injected:
                raise StackOperationFailed(injected, entry.logical_id)
            if entry.action in ("add", "replace"):
                body = (rm._resource_json_map.get(entry.logical_id)
                        or {"Type": getattr(entry.new, "cf_resource_type", "")})
                _delete(rm, entry.new, body)
            elif entry.action == "modify":
                rm._parsed_resources[entry.logical_id] = entry.new
                reverted = parse_and_update_resource(
                    entry.logical_id, snap.json_map[entry.logical_id], rm, account_id, region
                )
                rm._parsed_resources[entry.logical_id] = reverted if reverted is not None else entry.new
        except Exception as exc:  # noqa: BLE001 - any handler error: this resource is not restored
            body = snap.json_map.get(entry.logical_id) or rm._resource_json_map.get(entry.logical_id) or {}
            reason = exc.reason if isinstance(exc, StackOperationFailed) else handler_message(exc)
            failures.append(CleanupFailure(entry.logical_id, body.get("Type", ""), _physical(entry.new), reason))
    stack.sandbox_props = snap.props
    return failures


def _cleanup(stack: Any, snap: _Snapshot, props: dict[str, Any]) -> list[CleanupFailure]:
    rm = stack.resource_map
    failures: list[CleanupFailure] = []
    doomed: list[tuple[str, Any, dict[str, Any]]] = [
        (e.logical_id, e.old, snap.json_map[e.logical_id]) for e in snap.journal if e.action == "replace"
    ]
    for name, resource in snap.parsed.items():
        body = rm._resource_json_map.get(name)
        if _is_model(resource) and (body is None or not _enabled(rm, body)):
            doomed.append((name, resource, snap.json_map[name]))
            rm._parsed_resources.pop(name, None)
            props.pop(name, None)
    order = {n: i for i, n in enumerate(dependency_order(snap.json_map))}
    for name, resource, body in sorted(doomed, key=lambda d: -order.get(d[0], 0)):
        if body.get("DeletionPolicy") == "Retain":
            continue
        try:
            _delete(rm, resource, body)
        except Exception as exc:  # noqa: BLE001
            failures.append(CleanupFailure(name, body.get("Type", ""), _physical(resource), handler_message(exc)))
    stack.sandbox_props = props
    return failures
