"""Stack lifecycle replacing moto's: events, rollback, exports, change sets, latency.

Each function here replaces one method of moto's ``CloudFormationBackend`` (or model),
bound by ``moto_patch.install``. State changes happen at call time; with a configured
latency the stack merely *reports* ``*_IN_PROGRESS`` (and hides later events) until the
simulated clock passes the completion time (ASSUMPTIONS A13).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import Event, Stack
from moto.cloudformation.parsing import OutputMap, clean_json
from moto.cloudformation.utils import generate_stack_id
from moto.core.responses import ActionResult

from .. import world as world_mod
from . import engine
from .engine import StackOperationFailed

# States an update is refused in; UPDATE_ROLLBACK_FAILED only takes ContinueUpdateRollback or a delete
# (CloudFormation User Guide, "Stack status codes").
NOT_UPDATABLE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED", "UPDATE_ROLLBACK_FAILED")
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


# --- clock, status and events ---------------------------------------------------------------------
def sim_now() -> datetime:
    """moto keeps naive UTC datetimes."""
    return world_mod.current().clock.now().replace(tzinfo=None)


def _status_get(self: Stack) -> str:
    busy_until = self.__dict__.get("_sandbox_busy_until")
    if busy_until is not None and sim_now() < busy_until:
        return self.__dict__["_sandbox_busy_status"]
    return self.__dict__.get("_sandbox_status", "CREATE_PENDING")


def _status_set(self: Stack, value: str) -> None:
    self.__dict__["_sandbox_status"] = value


status_property = property(_status_get, _status_set)


def _event(stack: Stack, status: str, reason: str | None = None, *, at: datetime | None = None,
           logical_id: str | None = None, physical_id: str | None = None, resource_type: str | None = None) -> None:
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id or stack.name,
        physical_resource_id=physical_id if logical_id else stack.stack_id,
        resource_type=resource_type or "AWS::CloudFormation::Stack",
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    event.timestamp = at or sim_now()
    stack.events.append(event)


def _begin(stack: Stack, in_progress: str) -> datetime:
    """Start an operation; returns the time it completes."""
    latency = world_mod.current().config.cfn_latency_seconds
    done = sim_now() + timedelta(seconds=latency)
    stack.__dict__["_sandbox_busy_status"] = in_progress
    stack.__dict__["_sandbox_busy_until"] = done if latency > 0 else None
    stack.status = in_progress
    _event(stack, in_progress, "User Initiated")
    return done


def _finish(stack: Stack, status: str, done: datetime, reason: str | None = None) -> None:
    stack.status = status
    stack.stack_status_reason = reason
    stack.status_reason = reason
    _event(stack, status, at=done)


def _check_idle(stack: Stack) -> None:
    status = stack.status
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise ValidationError(stack.stack_id,
                              message=f"Stack:{stack.stack_id} is in {status} state and can not be updated.")


def describe_stack_events(self: Any, stack_name: str) -> list[Event]:
    now = sim_now()
    return [e for e in self.get_stack(stack_name).events if e.timestamp <= now]


EVENTS_PAGE = 100  # events per DescribeStackEvents page (ASSUMPTIONS A41)


def describe_stack_events_response(self: Any) -> ActionResult:
    """CloudFormationResponse.describe_stack_events: newest first, EVENTS_PAGE a page. NextToken names
    the last event returned, so events that arrive between two pages never shift the next page."""
    events = self.cloudformation_backend.describe_stack_events(self._get_param("StackName"))[::-1]
    token = self._get_param("NextToken")
    start = 0
    if token:
        ids = [str(e.event_id) for e in events]
        if token not in ids:
            raise ValidationError(token, message="Invalid NextToken")
        start = ids.index(token) + 1
    page = events[start:start + EVENTS_PAGE]
    result: dict[str, Any] = {"StackEvents": page}
    if start + EVENTS_PAGE < len(events):
        result["NextToken"] = str(page[-1].event_id)
    return ActionResult(result)


# --- exports ---------------------------------------------------------------------------------------------
def _imports_of(stack: Stack) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue":
                    try:
                        names.add(str(clean_json(copy.deepcopy(value), stack.resource_map)))
                    except Exception:  # noqa: BLE001
                        pass
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(stack.template_dict.get("Resources", {}))
    walk(stack.template_dict.get("Outputs", {}))
    return names


def _importers(backend: Any, export_name: str, exclude: Stack) -> list[str]:
    return [s.name for s in backend.stacks.values() if s is not exclude and export_name in _imports_of(s)]


def _export_guard(backend: Any, stack: Stack, template: dict[str, Any]):
    """Checks run after resources changed, before commit (failure -> rollback)."""

    def check() -> None:
        new = {e.name: e.value for e in OutputMap(stack.resource_map, template, stack.stack_id).exports}
        for name, export in backend.exports.items():
            if export.exporting_stack_id == stack.stack_id:
                users = _importers(backend, name, stack)
                if users and name not in new:
                    raise StackOperationFailed(f"Cannot delete export {name} as it is in use by {users[0]}.")
                if users and new[name] != export.value:
                    raise StackOperationFailed(f"Export {name} cannot be updated as it is in use by {users[0]}.")
            elif name in new:
                raise StackOperationFailed(f"Export with name {name} is already exported by another stack.")

    return check


def _refresh_exports(backend: Any, stack: Stack) -> None:
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in stack.exports:
        backend.exports[export.name] = export


# --- create -----------------------------------------------------------------------------------------------
def create_stack(self: Any, name: str, template: str, parameters: dict[str, Any], notification_arns=None,
                 tags=None, role_arn=None, enable_termination_protection=False, timeout_in_mins=None,
                 stack_policy_body=None) -> Stack:
    if any(s.name == name for s in self.stacks.values()):
        raise AlreadyExistsException(f"Stack [{name}] already exists")
    stack = Stack(
        stack_id=generate_stack_id(name, self.region_name, self.account_id), name=name, template=template,
        parameters=parameters, account_id=self.account_id, region_name=self.region_name,
        notification_arns=notification_arns, tags=tags, role_arn=role_arn, cross_stack_resources=self.exports,
        enable_termination_protection=enable_termination_protection, timeout_in_mins=timeout_in_mins,
        stack_policy_body=stack_policy_body,
    )
    # moto hands ``exports or {}`` down, which detaches an empty registry: re-attach it.
    stack.cross_stack_resources = stack.resource_map.cross_stack_resources = self.exports
    self.stacks[stack.stack_id] = stack
    _run_create(self, stack)
    return stack


def _run_create(backend: Any, stack: Stack) -> None:
    done = _begin(stack, "CREATE_IN_PROGRESS")
    try:
        engine.create_all(stack)
        _export_guard(backend, stack, stack.template_dict)()
        stack.output_map = stack._create_output_map()
        _refresh_exports(backend, stack)
        _finish(stack, "CREATE_COMPLETE", done)
    except StackOperationFailed as failure:
        if failure.logical_id:
            _event(stack, "CREATE_FAILED", failure.reason, logical_id=failure.logical_id,
                   resource_type=failure.resource_type)
            reason = f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."
        else:
            reason = failure.reason
        _event(stack, "ROLLBACK_IN_PROGRESS", reason)
        engine.delete_all(stack)
        # moto's maps resolve lazily: empty them so describing the stack re-creates nothing.
        stack.resource_map._resource_json_map = {}
        stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
        _finish(stack, "ROLLBACK_COMPLETE", done, reason)


# --- update -------------------------------------------------------------------------------------------------
def update_stack(self: Any, name: str, template: str, role_arn: str | None, parameters: list[dict[str, Any]],
                 tags: dict[str, str] | None) -> Stack:
    stack = self.get_stack(name)
    _check_idle(stack)
    if stack.status in NOT_UPDATABLE:
        raise ValidationError(stack.stack_id,
                              message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
    template_dict = Stack.parse_template(template)
    if template_dict == stack.template_dict and resolved == stack.parameters and tags in (None, stack.tags):
        raise ValidationError(stack.name, message="No updates are to be performed.")
    if tags is not None:
        stack.tags = tags
    if role_arn:
        stack.role_arn = role_arn
    run_update(self, stack, template, template_dict, resolved)
    return stack


def run_update(backend: Any, stack: Stack, template: str, template_dict: dict[str, Any],
               parameters: dict[str, Any]) -> bool:
    done = _begin(stack, "UPDATE_IN_PROGRESS")
    injected = world_mod.current().faults.take_stack_update_failure(stack.name)
    try:
        if injected:
            raise StackOperationFailed(injected)
        failures = engine.apply_update(stack, template_dict, parameters, backend.account_id, backend.region_name,
                                       before_commit=_export_guard(backend, stack, template_dict),
                                       fail_restore=lambda _lid: world_mod.current().faults.take_rollback_failure(
                                           stack.name))
    except StackOperationFailed as failure:
        if failure.logical_id:
            _event(stack, "UPDATE_FAILED", failure.reason, logical_id=failure.logical_id,
                   resource_type=failure.resource_type)
            reason = f"The following resource(s) failed to update: [{failure.logical_id}]."
        else:
            reason = failure.reason
        _event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        stack.output_map = stack._create_output_map()
        _refresh_exports(backend, stack)
        if failure.rollback_failures:  # documented: a resource the rollback cannot restore
            for f in failure.rollback_failures:
                _event(stack, "UPDATE_FAILED", f.reason, logical_id=f.logical_id, physical_id=f.physical_id,
                       resource_type=f.resource_type)
            names = ", ".join(f.logical_id for f in failure.rollback_failures)
            failed = f"The following resource(s) failed to update: [{names}]."
            _finish(stack, "UPDATE_ROLLBACK_FAILED", done, failed)
            stack.events[-1].resource_status_reason = failed
            return False
        _event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        _finish(stack, "UPDATE_ROLLBACK_COMPLETE", done, reason)
        return False
    stack.template = template
    stack.template_dict = template_dict
    stack.description = template_dict.get("Description")
    stack.parameters = parameters
    stack.output_map = stack._create_output_map()
    _refresh_exports(backend, stack)
    _event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    for f in failures:
        _event(stack, "DELETE_FAILED", f.reason, logical_id=f.logical_id, physical_id=f.physical_id,
               resource_type=f.resource_type)
    _finish(stack, "UPDATE_COMPLETE", done)
    return True


# --- delete ----------------------------------------------------------------------------------------------------
def delete_stack(self: Any, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return
    _check_idle(stack)
    done = _begin(stack, "DELETE_IN_PROGRESS")
    for export in stack.exports if stack.template_dict else []:
        users = _importers(self, export.name, stack)
        if users:
            reason = f"Export {export.name} cannot be deleted as it is in use by {users[0]}"
            _finish(stack, "DELETE_FAILED", done, reason)
            stack.events[-1].resource_status_reason = reason
            return
    failures = engine.delete_all(stack)
    if failures:
        for f in failures:
            _event(stack, "DELETE_FAILED", f.reason, logical_id=f.logical_id, physical_id=f.physical_id,
                   resource_type=f.resource_type)
        reason = "The following resource(s) failed to delete: [" + ", ".join(f.logical_id for f in failures) + "]. "
        _finish(stack, "DELETE_FAILED", done, reason)
        return
    _finish(stack, "DELETE_COMPLETE", done)
    self.stacks.pop(stack.stack_id)
    self.deleted_stacks[stack.stack_id] = stack
    for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del self.exports[name]


# --- change sets (their contents and status: change_sets.py) --------------------------------------------------
def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if c.change_set_name == change_set_name
         and (stack_name is None or c.stack_name == stack_name or c.stack_id == stack_name)), None
    )
    if change_set is None:
        raise ValidationError(stack_name, message=f"ChangeSet [{change_set_name}] does not exist")
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(stack_name, message=f"ChangeSet [{change_set.change_set_id}] cannot be executed "
                                                  f"in its current execution status of [{change_set.execution_status}]")
    stack = self.stacks[change_set.stack_id]
    _check_idle(stack)
    if change_set.change_set_type != "CREATE" and stack.status in NOT_UPDATABLE:
        raise ValidationError(stack.stack_id,
                              message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    if change_set.change_set_type == "CREATE":
        stack.template = change_set.template
        stack.template_dict = change_set.template_dict
        stack.description = change_set.template_dict.get("Description")
        stack.parameters = change_set.parameters
        stack.resource_map = stack._create_resource_map()
        stack.resource_map.cross_stack_resources = self.exports
        _run_create(self, stack)
        ok = stack.__dict__["_sandbox_status"] == "CREATE_COMPLETE"
    else:
        ok = run_update(self, stack, change_set.template, change_set.template_dict, change_set.parameters)
    change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
