"""Change sets as DescribeChangeSet reports them: what they change (Replacement, Details) and how long
CloudFormation takes to compute them (ASSUMPTIONS A70). Bound by ``moto_patch.install`` onto moto's
``ChangeSet`` (``diff`` and the ``status`` / ``execution_status`` / ``status_reason`` properties).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from moto.cloudformation.models import Change

from .. import world as world_mod
from . import engine
from .schema import create_only_properties
from .stacks import sim_now


def _substitute_parameters(node: Any, params: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in params:
            return {"ParameterValue": params[node["Ref"]]}
        return {k: _substitute_parameters(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_parameters(v, params) for v in node]
    return node


def change_set_diff(self: Any) -> list[Change]:
    """ChangeSet.diff with Replacement and Details as DescribeChangeSet reports them (API Reference,
    ResourceChange, ResourceChangeDetail): a changed create-only property is RequiresRecreation Always,
    Evaluation Static -> Replacement True. A property that refers (Ref, Fn::GetAtt, Fn::Sub) to a resource
    being replaced (True or Conditional) is a Dynamic detail (ChangeSource ResourceReference or
    ResourceAttribute, CausingEntity the resource or "resource.attribute"), listed even when its text did
    not change: on a create-only property it makes the Replacement Conditional. The most impact wins."""
    stack = self.stack
    old_resources = (stack.template_dict or {}).get("Resources", {}) if self.change_set_type == "UPDATE" else {}
    new_resources = self.template_dict.get("Resources", {})
    old_params = dict(stack.resource_map.resolved_parameters) if old_resources else {}
    new_params = {k: v.get("Default") for k, v in (self.template_dict.get("Parameters") or {}).items()}
    new_params.update(self.parameters or {})
    replacing: set[str] = set()
    changes: list[Change] = []
    for name in engine.dependency_order(new_resources):
        body = new_resources[name]
        if name not in old_resources:
            changes.append(_change("Add", name, body["Type"], None))
            continue
        old_props = _substitute_parameters(old_resources[name].get("Properties", {}), old_params)
        new_props = _substitute_parameters(body.get("Properties", {}), new_params)
        changed = {k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k)}
        dynamic = {k: causes for k, v in new_props.items() if (causes := _causes(v, replacing))}
        retyped = old_resources[name].get("Type") != body.get("Type")
        if not (changed or dynamic or retyped):
            continue
        create_only = create_only_properties(body["Type"])
        if changed & create_only or retyped:
            replacement = "True"
        elif set(dynamic) & create_only:
            replacement = "Conditional"
        else:
            replacement = "False"
        if replacement != "False":
            replacing.add(name)
        physical = getattr(stack.resource_map._parsed_resources.get(name), "physical_resource_id", None)
        changes.append(_change("Modify", name, body["Type"], physical, replacement, sorted(changed), create_only,
                               dynamic))
    for name, body in old_resources.items():
        if name not in new_resources:
            physical = getattr(stack.resource_map._parsed_resources.get(name), "physical_resource_id", None)
            changes.append(_change("Remove", name, body["Type"], physical))
    return changes


def _causes(value: Any, replacing: set[str]) -> list[tuple[str, str]]:
    """(ChangeSource, CausingEntity) for each reference in `value` to a resource being replaced."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and inner in replacing:
                found.append(("ResourceReference", inner))
            elif key == "Fn::GetAtt":
                parts = inner if isinstance(inner, list) else str(inner).split(".", 1)
                if parts and parts[0] in replacing:
                    found.append(("ResourceAttribute", ".".join(str(p) for p in parts)))
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for ref in re.findall(r"\$\{([^!}][^}]*)\}", text if isinstance(text, str) else ""):
                    if ref.split(".")[0] in replacing:
                        found.append(("ResourceAttribute" if "." in ref else "ResourceReference", ref))
                found += _causes(inner[1] if isinstance(inner, list) and len(inner) > 1 else None, replacing)
            else:
                found += _causes(inner, replacing)
    elif isinstance(value, list):
        for item in value:
            found += _causes(item, replacing)
    return list(dict.fromkeys(found))


def _change(action: str, logical_id: str, resource_type: str, physical_id: str | None,
            replacement: str | None = None, changed: list[str] | None = None,
            create_only: frozenset[str] = frozenset(), dynamic: dict[str, list[tuple[str, str]]] | None = None
            ) -> Change:
    change: Any = Change(action=action, logical_resource_id=logical_id, resource_type=resource_type)  # moto: 3 attrs
    change.physical_resource_id = physical_id
    change.replacement = replacement
    dynamic = dynamic or {}
    change.scope = ["Properties"] if changed or dynamic else []

    def target(prop: str) -> dict[str, str]:
        return {"Attribute": "Properties", "Name": prop,
                "RequiresRecreation": "Always" if prop in create_only else "Never"}

    change.details = [
        {"Target": target(prop), "Evaluation": "Static", "ChangeSource": "DirectModification"}
        for prop in changed or []
    ] + [
        {"Target": target(prop), "Evaluation": "Dynamic", "ChangeSource": source, "CausingEntity": entity}
        for prop in sorted(dynamic) for source, entity in dynamic[prop]
    ]
    return change


# --- change set status: computed for a while (ASSUMPTIONS A70) ---------------------------------------------
def _computing(change_set: Any) -> bool:
    ready = change_set.__dict__.get("_sandbox_ready_at")
    return ready is not None and sim_now() < ready


def _cs_status_get(self: Any) -> str | None:
    return "CREATE_IN_PROGRESS" if _computing(self) else self.__dict__.get("_sandbox_cs_status")


def _cs_status_set(self: Any, value: str | None) -> None:
    self.__dict__["_sandbox_cs_status"] = value
    if value in ("CREATE_COMPLETE", "FAILED") and "_sandbox_ready_at" not in self.__dict__:
        seconds = world_mod.current().config.cfn_change_set_seconds
        self.__dict__["_sandbox_ready_at"] = sim_now() + timedelta(seconds=seconds) if seconds > 0 else None


def _cs_execution_get(self: Any) -> str | None:
    return "UNAVAILABLE" if _computing(self) else self.__dict__.get("_sandbox_cs_execution")


def _cs_execution_set(self: Any, value: str | None) -> None:
    self.__dict__["_sandbox_cs_execution"] = value


def _cs_reason_get(self: Any) -> str | None:
    return None if _computing(self) else self.__dict__.get("_sandbox_cs_reason")


def _cs_reason_set(self: Any, value: str | None) -> None:
    self.__dict__["_sandbox_cs_reason"] = value


change_set_status = property(_cs_status_get, _cs_status_set)
change_set_execution_status = property(_cs_execution_get, _cs_execution_set)
change_set_status_reason = property(_cs_reason_get, _cs_reason_set)
