"""compiled state + live state -> StackChange/TaskChange/TableChange data. Pure: no AWS.

Tables are diffed against what DMS actually runs (the live task's TableMappings); everything else
against the deployed template. Replacement is detected client-side: a property CloudFormation
marks create-only (from cfn-lint's bundled registry schemas) changed, or MigrationType changed
(DMS refuses to modify it in place).
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import Any

from dmsctl.compiler.build import CompiledStack, CompiledTask, CompiledTree
from dmsctl.deployer import handover
from dmsctl.deployer import plan as P
from dmsctl.deployer.live import LiveStack, LiveState, LiveTask
from dmsctl.deployer.mappings_semantics import live_tables as mapped_tables
from dmsctl.deployer.mappings_semantics import settings_subset
from dmsctl.deployer.plan_values import NO_NAMES, Names, attributes, config_key, property_changes, settings_changes
from dmsctl.deployer.task_states import RUNNING, STARTABLE

TASK_TYPE = "AWS::DMS::ReplicationTask"


@cache
def create_only(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # unknown type: assume nothing is create-only
        return frozenset()
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") == 2)


def _resources(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template.get("Resources", {}) if isinstance(template, dict) else {}
    return resources


def _tasks_in(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """ReplicationTaskIdentifier -> (logical id, properties) for every task in a template."""
    out = {}
    for lid, res in _resources(template).items():
        if res.get("Type") == TASK_TYPE:
            props = res.get("Properties", {})
            out[props.get("ReplicationTaskIdentifier", lid)] = (lid, props)
    return out


def _paused_in(template: dict[str, Any]) -> dict[str, dict[tuple[str, ...], str]]:
    """Task name -> its paused (schema, table) keys and their versions, from the template's dmsctl
    metadata ("schema.table@version"). Step 1 of a reload marks the reloaded table paused at its old
    version, so a plan after an apply that stopped there sees the reload still to finish."""
    meta = template.get("Metadata", {}).get("dmsctl", {}) if isinstance(template, dict) else {}
    out: dict[str, dict[tuple[str, ...], str]] = {}
    for task, entries in (meta.get("paused_tables") or {}).items():
        out[task] = {}
        for e in entries:
            name, _, version = e.partition("@")
            out[task][tuple(name.split(".", 1))] = version
    return out


_KINDS = {"AWS::DMS::ReplicationInstance": ("instance", "ReplicationInstanceIdentifier"),
          "AWS::DMS::Endpoint": ("endpoint", "EndpointIdentifier"),
          TASK_TYPE: ("task", "ReplicationTaskIdentifier")}


def stack_names(compiled: CompiledStack | None, old: dict[str, Any], exports: dict[str, str]) -> Names:
    """Config names of a stack's logical ids: the compiler's; a resource only the deployed template has
    (removed from the config) by its kind and physical identifier ("instance dmsctl-growth-spare")."""
    names: dict[str, str] = {}
    for lid, res in _resources(old).items():
        kind, key = _KINDS.get(res.get("Type", ""), ("", ""))
        ident = (res.get("Properties") or {}).get(key) if kind else None
        if isinstance(ident, str):
            names[lid] = f"{kind} {_tag(res.get('Properties'), 'dmsctl:task') or ident}"
    if compiled is not None:
        names.update({r.logical_id: r.label for r in compiled.resources})
        names.update({t.logical_id: f"task {t.name}" for t in compiled.tasks})
    return Names(names, exports)


def export_names(compiled: CompiledTree) -> dict[str, str]:
    """Export name -> the config name of the resource it exports (a base target, a team's instance, ...)."""
    out = {}
    for stack in compiled.stacks:
        labels = {r.logical_id: r.label for r in stack.resources}
        out.update({name: labels[lid] for lid, name in exported_resources(stack.template).items() if lid in labels})
    return out


def resource_changes(old: dict[str, Any], new: dict[str, Any], region: str, names: Names = NO_NAMES,
                     compiled: CompiledStack | None = None) -> dict[str, P.ResourceChange]:
    """Non-task resources that differ between two templates, keyed by logical id, with their config
    names and values (old -> new; a new resource's attributes)."""
    old_r, new_r = _resources(old), _resources(new)
    changes = {}
    for lid in sorted(set(old_r) | set(new_r)):
        a, b = old_r.get(lid), new_r.get(lid)
        rtype = (b or a or {}).get("Type", "")  # one of them exists
        if rtype == TASK_TYPE:
            continue
        name = names.resources.get(lid, lid)
        if a is None:
            record = r.record if compiled is not None and (r := compiled.resource(lid)) is not None else ()
            changes[lid] = P.ResourceChange(lid, rtype, P.CREATE, name,
                                            attributes(rtype, b.get("Properties", {}) if b else {}, names, record))
        elif b is None:
            changes[lid] = P.ResourceChange(lid, rtype, P.DELETE, name)
        elif a != b:
            pa, pb = a.get("Properties", {}), b.get("Properties", {})
            props = tuple(sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)))
            replace = a.get("Type") != b.get("Type") or any(k in create_only(rtype, region) for k in props)
            changes[lid] = P.ResourceChange(lid, rtype, P.REPLACE if replace else P.UPDATE, name,
                                            property_changes(rtype, pa, pb, names))
    return changes


def _refs(value: object) -> set[str]:
    """Logical ids a property value refers to (Ref / Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            found.add(value["Fn::GetAtt"][0])
        for v in value.values():
            found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _imports(value: object) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            found.add(value["Fn::ImportValue"])
        for v in value.values():
            found |= _imports(v)
    elif isinstance(value, list):
        for v in value:
            found |= _imports(v)
    return found


def diff_tables(task: CompiledTask, live: dict[tuple[str, str], str | None],
                paused_before: dict[tuple[str, ...], str]) -> tuple[P.TableChange, ...]:
    changes = []
    wanted = {(t.schema, t.table): t for t in task.tables}
    for key, t in sorted(wanted.items()):
        lv = live.get(key, "__absent__")
        if t.paused:
            if lv != "__absent__":
                changes.append(P.TableChange(t.schema, t.table, P.PAUSE, old_version=lv))
        elif lv == "__absent__" and key in paused_before and paused_before[key] not in ("", t.version):
            changes.append(P.TableChange(t.schema, t.table, P.RELOAD, old_version=paused_before[key],
                                         new_version=t.version, s3_prefix=t.s3_prefix))  # paused, version bumped
        elif lv == "__absent__":
            kind = P.RESUME if key in paused_before else P.ADD
            changes.append(P.TableChange(t.schema, t.table, kind, new_version=t.version, s3_prefix=t.s3_prefix))
        elif lv != t.version:
            changes.append(P.TableChange(t.schema, t.table, P.RELOAD, old_version=lv, new_version=t.version,
                                         s3_prefix=t.s3_prefix))
    for key in sorted(set(live) - set(wanted)):
        changes.append(P.TableChange(key[0], key[1], P.REMOVE, old_version=live[key]))
    return tuple(changes)


def diff_task(task: CompiledTask | None, deployed: dict[str, Any] | None, live: LiveTask | None,
              new_template: dict[str, Any], replaced_resources: set[str], changed_resources: set[str],
              paused_before: dict[tuple[str, ...], str],
              region: str, team: str, replaced_exports: dict[str, str] | None = None,
              names: Names = NO_NAMES) -> P.TaskChange:
    """`replaced_exports`: export name -> "<logical id> of stack <name>" for resources of other stacks
    (a team stack's instances and sources) that this plan replaces, seen by tasks importing them.
    `names`: config names of the logical ids and exports the task's properties refer to."""
    replaced_exports = replaced_exports or {}
    ident = task.identifier if task else (deployed or {}).get("ReplicationTaskIdentifier", "")
    name = task.name if task else (_tag(deployed, "dmsctl:task") or ident)
    status = live.status if live else None
    if task is None:
        return P.TaskChange(team, name, ident, P.DELETE, ("removed from config",),
                            tables=diff_tables_removed(live), live_status=status)
    active = sum(1 for t in task.tables if not t.paused)
    run_change = _run_change(task, live)
    if deployed is None:
        tables = tuple(P.TableChange(t.schema, t.table, P.ADD, new_version=t.version, s3_prefix=t.s3_prefix)
                       for t in task.tables if not t.paused)
        new_task = _tasks_in(new_template)[ident][1] if ident in _tasks_in(new_template) else {}
        return P.TaskChange(team, name, ident, P.CREATE, ("new task",), tables, None, status, active,
                            values=attributes(TASK_TYPE, new_task, names))
    new_props = _tasks_in(new_template)[ident][1]
    reasons, replace = [], False
    for prop in sorted(create_only(TASK_TYPE, region) | {"MigrationType"}):
        if deployed.get(prop) != new_props.get(prop):
            reasons.append(f"{prop} changes ({names.ref(deployed.get(prop))} -> {names.ref(new_props.get(prop))})")
            replace = True
    refs = _refs(new_props) if replaced_resources or changed_resources else set()
    for lid in sorted(refs & replaced_resources):
        reasons.append(f"{names.resources.get(lid, lid)} is replaced, so its new ARN changes the task")
        replace = True
    for export in sorted(_imports(new_props) & set(replaced_exports) if replaced_exports else ()):
        reasons.append(f"{replaced_exports[export]} is replaced, so its new ARN changes the task")
        replace = True
    if not replace:
        for lid in sorted(refs & changed_resources):
            reasons.append(f"{names.resources.get(lid, lid)} changes (the task is stopped while it does)")
    payload = ("TableMappings", "ReplicationTaskSettings")
    values = property_changes(TASK_TYPE, deployed, new_props, names, skip=payload)
    rewritten = sorted(k for k in set(deployed) | set(new_props) if k not in payload
                       and deployed.get(k) != new_props.get(k)
                       and not any(v.path.split(".")[0] in (k, _config_key(k)) for v in values))
    if rewritten:  # e.g. tags in another order: CloudFormation still updates the task
        reasons.append("properties written differently (same values): " + ", ".join(rewritten))
    if deployed.get("ReplicationTaskSettings") != new_props.get("ReplicationTaskSettings"):
        settings = _settings_values(deployed.get("ReplicationTaskSettings"), new_props.get("ReplicationTaskSettings"),
                                    live)
        values += settings
        if not settings:
            reasons.append("task settings written differently (no value DMS runs changes)")
    if replace or rewrites_mappings(deployed, new_props):
        # CloudFormation sends the task's whole new TableMappings: diff them against what DMS runs
        # (against the template when the task is missing from DMS: that is drift, P110).
        tables = diff_tables(task, live.tables if live else mapped_tables(deployed.get("TableMappings")),
                             paused_before)
        if not tables and not replace:  # e.g. written differently by another dmsctl version: DMS is still
            reasons.append("TableMappings change (same tables and versions)")  # modified, so stopped first
    else:
        tables = ()  # the template leaves the TableMappings as they are, so the deploy does too (drift: P110)
    if replace:
        action = P.REPLACE
    elif reasons or tables or values:
        action = P.UPDATE
    else:
        action = P.NONE
    return P.TaskChange(team, name, ident, action, tuple(reasons), tables, run_change, status, active,
                        restart_reloads_all=replace, values=values)


def _config_key(prop: str) -> str:
    return config_key(TASK_TYPE, prop)


def _settings_values(deployed: object, new: object, live: LiveTask | None) -> tuple[P.ValueChange, ...]:
    """Task settings old -> new by meaning: old is what DMS runs (its settings are enriched with server
    defaults, so only keys the config sets count), or the deployed template's when DMS has no such task."""
    wanted = _doc(new)
    if live is not None and live.settings:
        current = _doc(live.settings)
        paths = settings_subset(wanted, current)
    else:
        current = _doc(deployed)
        paths = settings_subset(wanted, current)
        paths += [k for k in settings_subset(current, wanted) if k not in paths]
    return settings_changes(paths, current, wanted)


def _doc(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def rewrites_mappings(deployed: dict[str, Any] | None, new_props: dict[str, Any] | None) -> bool:
    """Does a deploy send this task new TableMappings? CloudFormation passes a property to DMS only when
    the template changes it (compared as written), so live edits survive a deploy that does not."""
    return bool((deployed or {}).get("TableMappings") != (new_props or {}).get("TableMappings"))


def _tag(props: dict[str, Any] | None, key: str) -> str | None:
    tags = (props or {}).get("Tags")
    if isinstance(tags, list):
        value: str | None = next((t.get("Value") for t in tags if isinstance(t, dict) and t.get("Key") == key), None)
        return value
    return None


def diff_tables_removed(live: LiveTask | None) -> tuple[P.TableChange, ...]:
    if live is None:
        return ()
    return tuple(P.TableChange(s, t, P.REMOVE, old_version=v) for (s, t), v in sorted(live.tables.items()))


def _run_change(task: CompiledTask, live: LiveTask | None) -> str | None:
    if live is None or task.schedule is not None:
        return None  # a scheduled task is stopped between runs by design; its schedule starts it
    if task.paused and live.status in RUNNING:
        return P.PAUSE_TASK
    if not task.paused and live.status in STARTABLE and task.migration_type != "full-load":
        return P.RESUME_TASK
    return None


def _kind(template: dict[str, Any], name: str) -> str:
    meta = template.get("Metadata", {}).get("dmsctl", {}) if isinstance(template, dict) else {}
    if name.endswith("-base"):
        return "base"
    return "tasks" if meta.get("stack") or "--" in name else "team"


def diff_stack(compiled: CompiledStack | None, live: LiveStack | None, state: LiveState,
               region: str, replaced_exports: dict[str, str] | None = None,
               exports: dict[str, str] | None = None) -> P.StackChange:
    if compiled is not None:
        name = compiled.name
    elif live is not None:
        name = live.name
    else:
        raise ValueError("diff_stack needs the compiled stack, the live one, or both")
    kind = compiled.kind if compiled else _kind(live.template if live else {}, name)
    team = compiled.team if compiled else (live.template.get("Metadata", {}).get("dmsctl", {}).get("team")
                                          if live else None)
    old_t = live.template if live else {}
    new_t = compiled.template if compiled else {}
    if compiled is None:
        action = P.DELETE
    elif live is None:
        action = P.CREATE
    else:
        action = P.UPDATE if live.template_sha256 != compiled.template_sha256 else P.NONE
    names = stack_names(compiled, old_t, exports or {})
    res = resource_changes(old_t, new_t, region, names, compiled) if action != P.NONE else {}
    replaced = {lid for lid, c in res.items() if c.action in (P.REPLACE, P.DELETE)}
    changed = {lid for lid, c in res.items() if c.action == P.UPDATE}
    deployed_tasks = _tasks_in(old_t)
    paused_before = _paused_in(old_t)
    compiled_tasks = {t.identifier: t for t in (compiled.tasks if compiled else ())}
    tasks = []
    for ident in sorted(set(deployed_tasks) | set(compiled_tasks)):
        ct = compiled_tasks.get(ident)
        deployed = deployed_tasks.get(ident, (None, None))[1]
        tasks.append(diff_task(ct, deployed, state.tasks.get(ident), new_t, replaced, changed,
                               paused_before.get(ct.name if ct else "", {}), region, team or "",
                               replaced_exports, names))
    return P.StackChange(stack=name, kind=kind, team=team, action=action, status=live.status if live else None,
                         tasks=tuple(t for t in tasks), resources=tuple(res.values()))


def diff(compiled: CompiledTree, state: LiveState) -> tuple[P.StackChange, ...]:
    """One StackChange per stack that is compiled or deployed (base first, then teams by name, each
    team stack before its task stacks, whose tasks see the team stack's replaced resources)."""
    names = [s.name for s in compiled.stacks]
    names += sorted(n for n in state.stacks if n not in names)
    by_name = {s.name: s for s in compiled.stacks}
    replaced_exports: dict[str, str] = {}
    exports = export_names(compiled)
    changes = []
    for n in names:
        change = diff_stack(by_name.get(n), state.stacks.get(n), state, compiled.region, replaced_exports, exports)
        changes.append(change)
        if change.kind == "team" and n in by_name:
            exported = exported_resources(by_name[n].template)
            replaced_exports.update({exported[r.logical_id]: f"{r.name} of stack {n}" for r in change.resources
                                     if r.action == P.REPLACE and r.logical_id in exported})
    return _checkpoints(_moves(tuple(changes)), compiled, state)


def _checkpoints(changes: tuple[P.StackChange, ...], compiled: CompiledTree,
                 state: LiveState) -> tuple[P.StackChange, ...]:
    """A replaced task that is CDC-only in config and whose old task has run continues from the old
    task's RecoveryCheckpoint (DMS: a cdc task starts at a position with start-replication and
    CdcStartPosition) instead of reloading every table, when its source allows a start position (a
    PostgreSQL source only with a replication slot, `slot_name`); without one the new task captures from
    its start (`cdc_gap`: the changes between the two steps are not replicated). Any other replacement
    reloads everything."""
    by_id = {t.identifier: t for t in compiled.tasks()}
    out = []
    for c in changes:
        tasks = []
        for t in c.tasks:
            live, ct = state.tasks.get(t.identifier), by_id.get(t.identifier)
            if t.action == P.REPLACE and ct is not None and ct.migration_type == "cdc" and live is not None \
                    and live.ever_started:
                if handover.can_continue(ct.source_engine, ct.slot_name):
                    t = dataclasses.replace(t, keeps_checkpoint=True, restart_reloads_all=False)
                else:  # PostgreSQL without a slot: DMS refuses a start position, the new task starts afresh
                    t = dataclasses.replace(t, restart_reloads_all=False, cdc_gap=True)
            tasks.append(t)
        out.append(dataclasses.replace(c, tasks=tuple(tasks)))
    return tuple(out)


def _moves(changes: tuple[P.StackChange, ...]) -> tuple[P.StackChange, ...]:
    """A task deleted from one stack and created in another moves (its `stack` changed). CloudFormation
    cannot move a resource between stacks, and the identifier is the same: it is a replacement, in two
    steps (removed from the old stack in step 1, created in the new one in step 2)."""
    def where(action: str) -> dict[str, str]:
        return {t.identifier: c.stack for c in changes for t in c.tasks if t.action == action}

    deleted, created = where(P.DELETE), where(P.CREATE)
    moved = set(deleted) & set(created)
    if not moved:
        return changes
    out = []
    for c in changes:
        tasks = []
        for t in c.tasks:
            if t.identifier in moved and t.action == P.CREATE:
                why = (f"moves from stack {deleted[t.identifier]} to {c.stack}: CloudFormation cannot move a resource "
                       "between stacks, so it is removed there and created anew here")
                t = dataclasses.replace(t, action=P.REPLACE, reasons=(why,), restart_reloads_all=True)
            elif t.identifier in moved and t.action == P.DELETE:
                t = dataclasses.replace(t, reasons=(f"moves to stack {created[t.identifier]}",))
            tasks.append(t)
        out.append(dataclasses.replace(c, tasks=tuple(tasks)))
    return tuple(out)


def moved_away(changes: tuple[P.StackChange, ...]) -> set[str]:
    """Identifiers of tasks deleted from a stack because they move to another one."""
    replaced = {t.identifier for c in changes for t in c.tasks if t.action == P.REPLACE}
    return {t.identifier for c in changes for t in c.tasks if t.action == P.DELETE and t.identifier in replaced}


def exported_resources(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> export name, for outputs that export a resource's Ref."""
    out = {}
    for o in (template.get("Outputs") or {}).values():
        value, name = o.get("Value"), (o.get("Export") or {}).get("Name")
        if isinstance(value, dict) and isinstance(value.get("Ref"), str) and isinstance(name, str):
            out[value["Ref"]] = name
    return out


def imports_of(template: dict[str, Any]) -> set[str]:
    return _imports(_resources(template))


def exports_of(template: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for o in (template.get("Outputs") or {}).values():
        name = (o.get("Export") or {}).get("Name")
        if isinstance(name, str):
            out.add(name)
    return out
