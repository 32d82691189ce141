"""compile -> read live -> diff -> targeted reads -> steps -> checks -> Plan.

`make_plan` is what `dmsctl plan` and `dmsctl apply` both run. It only reads AWS (its gateway
should be read-only for plan; apply re-plans with the same code) and returns the Plan plus the
template bodies its steps deploy, keyed by hash.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from compiler.build import CompiledStack, CompileResult, compile_config
from compiler.model import ConfigTree
from deployer import checks as C
from deployer import plan as P
from deployer.diff import _tasks_in, diff, exports_of, imports_of
from deployer.gateway import Gateway
from deployer.live import LiveState, prefix_has_objects, read_live, read_table_stats
from deployer.steps import StackTemplates, build_steps


@dataclass(frozen=True)
class Planned:
    plan: P.Plan
    bodies: dict  # template sha256 -> CompiledStack (final and intermediate templates)
    live: LiveState


def intermediate_stacks(config: ConfigTree, changes: tuple[P.StackChange, ...]) -> dict[str, CompiledStack]:
    """Step-1 templates of a two-step plan: replaced tasks left out entirely (CloudFormation deletes
    them; step 2 creates them anew). In a task that reloads tables, the reloaded tables are left out
    (as if paused), and so are the tables it adds (left out) or resumes (still paused): step 1 resumes
    the task, step 2 stops it again to add them all, and a full load must not be running by then."""
    def keys(t: P.TaskChange, *kinds: str) -> set[tuple[str, str]]:
        return {(tc.schema, tc.table) for tc in t.tables if tc.kind in kinds}

    reloading = [t for c in changes for t in c.tasks if keys(t, P.RELOAD)]
    held = {(t.team, t.task): keys(t, P.RELOAD, P.RESUME) for t in reloading}  # paused in step 1
    added = {(t.team, t.task): keys(t, P.ADD) for t in reloading}  # not in step 1
    replaced = {(t.team, t.task) for c in changes for t in c.tasks if t.action == P.REPLACE}
    if not held and not replaced:
        return {}
    teams = []
    for team in config.teams:
        tasks = []
        for task in team.tasks:
            if (team.name, task.name) in replaced:
                continue
            pause, skip = held.get((team.name, task.name), set()), added.get((team.name, task.name), set())
            tables = tuple(dataclasses.replace(tb, paused=True) if tb.key in pause else tb
                           for tb in task.tables if tb.key not in skip)
            tasks.append(dataclasses.replace(task, tables=tables))
        teams.append(dataclasses.replace(team, tasks=tuple(tasks)))
    result = compile_config(dataclasses.replace(config, teams=tuple(teams)))
    wanted = {team for team, _ in held} | {team for team, _ in replaced}
    return {s.name: s for s in (result.tree.stacks if result.tree else ()) if s.team in wanted}


def _affected_by_base(base: CompiledStack | None, changes: tuple[P.StackChange, ...],
                      compiled_stacks: tuple[CompiledStack, ...]) -> dict[str, tuple[str, ...]]:
    """Team tasks whose target endpoint (in the base stack) is modified or replaced by this plan."""
    base_change = next((c for c in changes if c.kind == "base"), None)
    if base is None or base_change is None:
        return {}
    export_of = {}
    for out in (base.template.get("Outputs") or {}).values():
        ref = out.get("Value", {}).get("Ref") if isinstance(out.get("Value"), dict) else None
        name = (out.get("Export") or {}).get("Name")
        if ref and name:
            export_of[ref] = name
    touched = {export_of[r.logical_id] for r in base_change.resources
               if r.action in (P.UPDATE, P.REPLACE) and r.logical_id in export_of}
    affected = []
    for stack in compiled_stacks:
        for ident, (_lid, props) in _tasks_in(stack.template).items():
            if imports_of({"Resources": {"x": {"Properties": props}}}) & touched:
                affected.append(ident)
    return {base.name: tuple(sorted(affected))} if affected else {}


def _summary(changes: tuple[P.StackChange, ...], steps: tuple[P.Step, ...]) -> P.Summary:
    def count(pred):
        return sum(1 for c in changes for t in c.tasks if pred(t))

    def tables(kind):
        return sum(1 for c in changes for t in c.tasks for tc in t.tables if tc.kind == kind)

    stopped = {ident for s in steps for st in s.stacks for ident in st.stop}
    return P.Summary(
        steps=len(steps),
        stacks_to_create=sum(1 for c in changes if c.action == P.CREATE),
        stacks_to_update=sum(1 for c in changes if c.action == P.UPDATE),
        stacks_to_delete=sum(1 for c in changes if c.action == P.DELETE),
        tasks_to_create=count(lambda t: t.action == P.CREATE),
        tasks_to_update=count(lambda t: t.action == P.UPDATE),
        tasks_to_replace=count(lambda t: t.action == P.REPLACE),
        tasks_to_delete=count(lambda t: t.action == P.DELETE),
        tasks_to_stop=len(stopped),
        tables_to_add=tables(P.ADD), tables_to_reload=tables(P.RELOAD), tables_to_remove=tables(P.REMOVE),
        tables_to_pause=tables(P.PAUSE), tables_to_resume=tables(P.RESUME))


def make_plan(result: CompileResult, gw: Gateway, flags: C.Flags = C.Flags()) -> Planned:
    compiled = result.tree
    if compiled is None or result.config is None:
        raise ValueError("make_plan needs a compiled tree; report the compile diagnostics instead")
    live = read_live(gw, compiled)
    wrong_account = tuple(C.account_check(compiled.account_id, live.account_id))
    if wrong_account:  # read_live stopped after GetCallerIdentity: nothing to diff in another account
        checks = (*C.compile_checks(result.diagnostics), *wrong_account)
        plan = P.Plan(env=compiled.env, account_id=compiled.account_id, region=compiled.region, stacks=(),
                      steps=(), checks=tuple(sorted(checks, key=lambda c: (not c.blocks, c.code, c.message))))
        return Planned(plan=plan, bodies={}, live=live)
    changes = diff(compiled, live)

    inter = intermediate_stacks(result.config, changes)
    bodies = {s.template_sha256: s for s in compiled.stacks}
    bodies.update({s.template_sha256: s for s in inter.values()})
    templates = {s.name: StackTemplates(s.template_sha256, inter[s.name].template_sha256 if s.name in inter else None)
                 for s in compiled.stacks}
    compiled_tasks = {t.identifier: t for t in compiled.tasks()}
    steps = build_steps(changes, live, templates,
                        paused_tasks={i: t.paused for i, t in compiled_tasks.items()},
                        migration_types={i: t.migration_type for i, t in compiled_tasks.items()},
                        externally_affected=_affected_by_base(compiled.base, changes, compiled.stacks))

    # Targeted reads: table statistics of every task a step stops; S3 for every new prefix.
    to_stop = sorted({i for s in steps for st in s.stacks for i in st.stop})
    stats = {i: read_table_stats(gw, live.tasks[i]) for i in to_stop if i in live.tasks}
    users = {tc.s3_prefix: (t.team, t.task, tc.name, tc.kind) for c in changes for t in c.tasks for tc in t.tables
             if tc.s3_prefix and tc.kind in (P.ADD, P.RELOAD, P.RESUME)}
    for c in changes:  # a replaced task starts over: every one of its tables full-loads again
        for t in c.tasks:
            if t.action == P.REPLACE and t.identifier in compiled_tasks:
                for tb in compiled_tasks[t.identifier].tables:
                    if not tb.paused:
                        users.setdefault(tb.s3_prefix, (t.team, t.task, tb.name, P.REPLACE))
    nonempty: dict[str, bool | None] = {}
    for p in sorted(users):  # None: no bucket (P115); asking again for every other prefix would tell nothing
        nonempty[p] = None if None in nonempty.values() else prefix_has_objects(gw, compiled.datalake_bucket, p)

    owners = {t.identifier: (t.team, t.task) for c in changes for t in c.tasks}
    deployed = {}
    for name, st in live.stacks.items():
        deployed.update({ident: props for ident, (_l, props) in _tasks_in(st.template).items()})
    imports = {s.name: imports_of(s.template) for s in compiled.team_stacks}
    wanted = {}
    for s in compiled.stacks:
        wanted.update({ident: props for ident, (_l, props) in _tasks_in(s.template).items()})
    checks = [*C.compile_checks(result.diagnostics),
              *C.stack_checks(changes, flags, exports_of(compiled.base.template), imports),
              *C.task_checks(changes, live, flags), *C.drift_checks(changes, live, deployed, flags, wanted),
              *C.full_load_checks(stats, owners), *C.s3_checks(nonempty, compiled.datalake_bucket, users)]
    shown = tuple(c for c in changes if c.action != P.NONE or any(t.changed for t in c.tasks))
    plan = P.Plan(env=compiled.env, account_id=compiled.account_id, region=compiled.region, stacks=shown,
                  steps=steps, checks=tuple(sorted(checks, key=lambda c: (not c.blocks, c.code, c.message))),
                  summary=_summary(changes, steps))
    return Planned(plan=plan, bodies=bodies, live=live)
