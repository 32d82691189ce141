"""compile -> read live -> diff -> targeted reads -> steps -> checks -> Plan.

`make_plan` is what `dmsctl plan` and `dmsctl apply` both run. It only reads AWS (its gateway
should be read-only for plan; apply re-plans with the same code) and returns the Plan plus the
template bodies its steps deploy, keyed by hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmsctl.compiler import naming
from dmsctl.compiler.build import CompiledStack, CompiledTree, CompileResult, compile_config
from dmsctl.compiler.model import ConfigTree
from dmsctl.compiler.render import task_groups, task_stack_imports
from dmsctl.deployer import checks as C
from dmsctl.deployer import handover, prerequisites
from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import _tasks_in, diff, exported_resources, exports_of, imports_of, moved_away
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.gc_pause import cyclic_gc_paused
from dmsctl.deployer.impact import reload_counts, with_impacts
from dmsctl.deployer.live import LiveState, LiveTask, TableStat, prefixes_with_objects, read_live, read_table_stats
from dmsctl.deployer.slots import slot_checks
from dmsctl.deployer.steps import SCHEDULED, StackTemplates, build_steps
from dmsctl.deployer.task_control import STOPPED_BY_TAG
from dmsctl.deployer.task_states import RUNNING


@dataclass(frozen=True)
class Planned:
    plan: P.Plan
    bodies: dict[str, CompiledStack]  # template sha256 -> CompiledStack (final and intermediate templates)
    live: LiveState



@dataclass(frozen=True)
class Statistics:
    """The plan's memo of DescribeTableStatistics: each task's statistics are read at most once per plan
    (several checks ask about the same task). make_plan makes one and passes it to whatever reads them;
    `needs_statistics` says for which tasks."""

    gw: Gateway
    read: dict[str, tuple[TableStat, ...]] = dataclasses.field(default_factory=dict)  # task ARN -> rows

    def of(self, task: LiveTask) -> tuple[TableStat, ...]:
        if task.arn not in self.read:
            self.read[task.arn] = read_table_stats(self.gw, task)
        return self.read[task.arn]


def needs_statistics(task: LiveTask | None, change: P.TaskChange | None, *, stopped: bool = False) -> bool:
    """The one rule for which tasks a plan reads the table statistics of (DescribeTableStatistics):
    - a task a step stops, when DMS's ReplicationTaskStats count a table loading or queued, or give no
      count (A75): stopping it must not interrupt a full load (P106);
    - a task replaced or deleted, or with a reload or a removal: its tables' states and rows (and, for a removal,
      those of the other copies of the table: P122);
    - a task that is not running, to which tables come back (added or resumed) that its TableMappings lack:
      DMS may still list them from before (P119). A running task lists only the tables it maps (A76);
    - any task whose ReplicationTaskStats count a table in error (TablesErrored > 0): the plan names the
      tables DMS suspended (P126), whether or not this plan touches the task.
    """
    if task is None:
        return False
    if task.tables_errored:
        return True
    if stopped and (task.tables_loading_or_queued is None or task.tables_loading_or_queued > 0):
        return True
    if change is None:
        return False
    if change.action in (P.REPLACE, P.DELETE) or any(tc.kind in (P.RELOAD, P.REMOVE) for tc in change.tables):
        return True
    if task.status == "running" or not task.described_fully:
        return False
    back = {(tc.schema, tc.table) for tc in change.tables if tc.kind in (P.ADD, P.RESUME)}
    return bool(back - set(task.tables))


def intermediate_stacks(config: ConfigTree, changes: tuple[P.StackChange, ...]) -> dict[str, CompiledStack]:
    """Step-1 templates of a two-step plan: replaced tasks left out entirely (CloudFormation deletes
    them; step 2 creates them anew). In a task that reloads tables, the reloaded tables are left out
    (as if paused), and so are the tables it adds (left out) or resumes (still paused): step 1 resumes
    the task, step 2 stops it again to add them all, and a full load must not be running by then."""
    def keys(t: P.TaskChange, *kinds: str) -> set[tuple[str, str]]:
        return {(tc.schema, tc.table) for tc in t.tables if tc.kind in kinds}

    reloading = [t for c in changes for t in c.tasks if keys(t, P.RELOAD)]
    held = {(t.team, t.task): keys(t, P.RELOAD, P.RESUME) for t in reloading}  # paused in step 1
    # a reloaded table is marked paused at its *old* version: a plan made after an apply that stopped
    # between the steps sees from the deployed template that the reload is still to finish
    old = {(t.team, t.task, tc.schema, tc.table): tc.old_version for t in reloading for tc in t.tables
           if tc.kind == P.RELOAD and tc.old_version}
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
            tables = tuple(dataclasses.replace(tb, paused=True, version=old.get((team.name, task.name, *tb.key),
                                                                                tb.version))
                           if tb.key in pause else tb for tb in task.tables if tb.key not in skip)
            tasks.append(dataclasses.replace(task, tables=tables))
        # keep the final exports and task stacks: step 2 deploys task stacks that import them
        teams.append(dataclasses.replace(team, tasks=tuple(tasks), keep_stacks=tuple(task_groups(team)),
                                         keep_exports=tuple(sorted(task_stack_imports(team)))))
    result = compile_config(dataclasses.replace(config, teams=tuple(teams)))
    wanted = {team for team, _ in held} | {team for team, _ in replaced}
    return {s.name: s for s in (result.tree.stacks if result.tree else ()) if s.team in wanted}


def _affected_by_exports(changes: tuple[P.StackChange, ...],
                         compiled_stacks: tuple[CompiledStack, ...]) -> dict[str, tuple[str, ...]]:
    """Tasks of other stacks that import a resource this plan modifies in place: a base target
    endpoint (modified or replaced), or a team stack's instance or source endpoint (modified; a
    replaced one replaces the importing task, see diff). They are stopped around that stack's deploy."""
    by_name = {s.name: s for s in compiled_stacks}
    imports = {s.name: _tasks_in(s.template) for s in compiled_stacks}
    out = {}
    for change in changes:
        stack = by_name.get(change.stack)
        if stack is None or change.kind not in ("base", "team") or change.action == P.NONE:
            continue
        exported = exported_resources(stack.template)
        acting = (P.UPDATE, P.REPLACE) if change.kind == "base" else (P.UPDATE,)
        touched = {exported[r.logical_id] for r in change.resources if r.action in acting and r.logical_id in exported}
        if not touched:
            continue
        affected = sorted(ident for name, tasks in imports.items() if name != stack.name
                          for ident, (_lid, props) in tasks.items()
                          if imports_of({"Resources": {"x": {"Properties": props}}}) & touched)
        if affected:
            out[stack.name] = tuple(affected)
    return out


def stack_waves(changes: tuple[P.StackChange, ...], live: LiveState, compiled_stacks: tuple[CompiledStack, ...],
                inter: dict[str, CompiledStack]) -> tuple[dict[str, int], list[P.Check]]:
    """Step 1's deploy order for teams with task stacks. By default the team stack goes first (a task
    stack may import an export it adds). When the team stack's step-1 deploy removes an export, or
    replaces the resource behind one, that a deployed task stack imports, CloudFormation refuses it
    until no stack imports it: then the task stacks go first (their step-1 templates no longer import
    it). A step that needs both orders at once cannot be deployed: P117."""
    by_team: dict[str, list[str]] = {}
    for c in changes:
        if c.kind == "tasks" and c.team:
            by_team.setdefault(c.team, []).append(c.stack)
    waves: dict[str, int] = {}
    checks: list[P.Check] = []
    compiled = {s.name: s for s in compiled_stacks}
    team_changes = {c.team: c for c in changes if c.kind == "team"}
    for team, task_stacks in sorted(by_team.items()):
        tc = team_changes.get(team)
        if tc is None or tc.action == P.NONE:
            continue
        old = live.stacks[tc.stack].template if tc.stack in live.stacks else {}
        new_stack = inter.get(tc.stack) or compiled.get(tc.stack)
        new = new_stack.template if new_stack else {}
        old_exported = exported_resources(old)
        gone = (exports_of(old) - exports_of(new)) | {
            old_exported[r.logical_id] for r in tc.resources
            if r.action in (P.REPLACE, P.DELETE) and r.logical_id in old_exported}
        imported_now = set().union(*(imports_of(live.stacks[n].template) for n in task_stacks if n in live.stacks))
        if not gone & imported_now:
            continue
        waves.update({n: 1 for n in task_stacks})
        waves[tc.stack] = 2
        added = exports_of(new) - exports_of(old)
        for n in task_stacks:
            step1 = inter.get(n) or compiled.get(n)
            needs = imports_of(step1.template) & added if step1 else set()
            if needs:
                checks.append(C.order_conflict(n, tc.stack, gone & imported_now, needs, team))
    return waves, checks


def _resumed_handovers(changes: tuple[P.StackChange, ...], compiled: CompiledTree, live: LiveState,
                       gw: Gateway) -> tuple[P.StackChange, ...]:
    """A CDC task with a stored hand-over checkpoint that has never run (still to create, or created by
    an earlier apply whose start failed) is the second half of a replacement that apply did not finish:
    it starts from that checkpoint (one GetItem per such task), never from "now" (a silent CDC gap)."""
    cdc = {t.identifier for t in compiled.tasks() if t.migration_type == "cdc" and t.schedule is None
           and not t.paused and handover.can_continue(t.source_engine, t.slot_name)}
    table = naming.lock_table(compiled.resource_prefix)

    def never_ran(t: P.TaskChange) -> bool:
        task = live.tasks.get(t.identifier)
        return t.action == P.CREATE or (t.action != P.DELETE and task is not None and not task.ever_started)

    out = []
    for c in changes:
        tasks = tuple(dataclasses.replace(t, keeps_checkpoint=True, reasons=t.reasons + (
            "continues from the checkpoint stored when its predecessor was removed (an unfinished replacement)",))
            if t.identifier in cdc and never_ran(t) and handover.pending(gw, table, t.identifier) else t
            for t in c.tasks)
        out.append(dataclasses.replace(c, tasks=tasks))
    return tuple(out)


def _other_copies(changes: tuple[P.StackChange, ...], compiled: CompiledTree, live: LiveState,
                  stats: Statistics) -> dict[tuple[str, str, str], tuple[C.OtherCopy, ...]]:
    """For every table a task stops replicating (removed, or its task deleted): the other tasks of the same
    source database that replicate it and keep it, with their table state (one DescribeTableStatistics
    per such other task that exists)."""
    compiled_tasks = {t.identifier: t for t in compiled.tasks()}
    removals = [(t, tc) for c in changes for t in c.tasks for tc in t.tables if tc.kind == P.REMOVE]
    if not removals:
        return {}
    states: dict[str, dict[tuple[str, str], str]] = {}

    def state(ident: str, key: tuple[str, str]) -> str | None:
        task = live.tasks.get(ident)
        if task is None:
            return None
        if ident not in states:
            states[ident] = {(s.schema, s.table): s.state for s in stats.of(task)}
        return states[ident].get(key)

    out: dict[tuple[str, str, str], tuple[C.OtherCopy, ...]] = {}
    for t, tc in removals:
        mine, here = compiled_tasks.get(t.identifier), live.tasks.get(t.identifier)
        others = []
        for other in compiled_tasks.values():
            if other.identifier == t.identifier or other.schedule is not None:
                continue
            there = live.tasks.get(other.identifier)
            same_source = (there.source_arn == here.source_arn if there is not None and here is not None
                           else other.team == t.team and (mine is None or mine.source == other.source))
            copy = next((tb for tb in other.tables if (tb.schema, tb.table) == (tc.schema, tc.table)
                         and not tb.paused), None)
            if same_source and copy is not None:
                others.append(C.OtherCopy(other.identifier, copy.version,
                                          state(other.identifier, (tc.schema, tc.table))))
        out[(t.identifier, tc.schema, tc.table)] = tuple(others)
    return out


def _with_repairs(steps: tuple[P.Step, ...], repairs: dict[str, tuple[str, ...]],
                  live: LiveState) -> tuple[P.Step, ...]:
    """Acknowledged drift repaired in step 1: the task is stopped (if running), its stack deployed (if it
    changes), its TableMappings and settings set back to the config's, and it is resumed."""
    if not repairs:
        return steps
    first = steps[0] if steps else P.Step(number=1, description="repair drift (--allow-drift)", stacks=())
    stacks = list(first.stacks)
    for stack, idents in sorted(repairs.items()):
        at = next((i for i, s in enumerate(stacks) if s.stack == stack), None)
        step = stacks[at] if at is not None else P.StackStep(stack=stack, action=P.NONE, template_sha256=None,
                                                              wave=1)
        running = [i for i in idents if (t := live.tasks.get(i)) is not None and t.status in RUNNING]
        stop = step.stop + tuple(i for i in running if i not in step.stop)
        starting = {e.identifier for e in step.start}
        start = step.start + tuple(P.TaskStart(i, P.RESUME_PROCESSING) for i in running if i not in starting)
        step = dataclasses.replace(step, stop=stop, start=start, repair=step.repair + idents)
        if at is None:
            stacks.append(step)
        else:
            stacks[at] = step
    stacks.sort(key=lambda s: s.wave)
    return (dataclasses.replace(first, stacks=tuple(stacks)), *steps[1:])


HOLD_TAG = "dmsctl:hold"


def _stopped_outside(changes: tuple[P.StackChange, ...], live: LiveState, gw: Gateway
                     ) -> tuple[tuple[P.StackChange, ...], list[P.Check]]:
    """Tasks the config wants running that are stopped now (stopped by hand, or left by an apply that
    stopped): a task tagged dmsctl:hold (an on-call's emergency stop; no config edit, no other team's
    file) is left stopped and the plan says so (P120); any other is resumed, and the plan says that
    too (P121). One ListTagsForResource per such task."""
    out, checks = [], []
    for c in changes:
        tasks = []
        for t in c.tasks:
            task = live.tasks.get(t.identifier)
            if t.run_change != P.RESUME_TASK or task is None or not task.ever_started:
                tasks.append(t)
                continue
            tags = {x["Key"]: x.get("Value", "") for x in gw.call(
                "dms", "list_tags_for_resource", resource=f"task {t.identifier}",
                ResourceArn=task.arn).get("TagList", [])}
            why = f" ({task.stop_reason})" if task.stop_reason else ""
            if HOLD_TAG in tags:
                hold = tags[HOLD_TAG] or "no reason given"
                checks.append(P.check("P120", "warning", f"task {t.identifier} is held ({HOLD_TAG}={hold}): it "
                                      f"stays {task.status}{why} and this apply does not start it; remove the tag "
                                      "to let the next apply resume it", t.team, t.task))
                tasks.append(dataclasses.replace(t, run_change=None, held=hold))
                continue
            by = (f"left stopped by apply run {tags[STOPPED_BY_TAG]}" if STOPPED_BY_TAG in tags
                  else "stopped outside dmsctl")
            checks.append(P.check("P121", "warning", f"task {t.identifier} is {task.status}{why}, {by}; this apply "
                                  f"resumes it. To keep it stopped, tag it {HOLD_TAG}=<reason> (aws dms "
                                  f"add-tags-to-resource --resource-arn {task.arn} --tags Key={HOLD_TAG},"
                                  "Value=<reason>)", t.team, t.task))
            tasks.append(t)
        out.append(dataclasses.replace(c, tasks=tuple(tasks)))
    return tuple(out), checks


def _interrupted_reloads(changes: tuple[P.StackChange, ...], live: LiveState,
                         stats: Statistics) -> tuple[P.StackChange, ...]:
    """Tables a reload's step 1 removed from the task, planned again as the reload they are when an apply
    stopped between the steps (P119): both steps again, never a one-step resume. Step 1 marks a reloaded
    table paused at its old version, so the deployed template says a reload is unfinished (whether DMS
    has dropped the table's progress by then is not documented: two steps are right either way). A
    table to add or resume that DMS still lists in the task's statistics is one too (the task never ran
    without it): adding it back in one step would keep its old progress, and the new version's S3
    prefix would get changes without a full load. One DescribeTableStatistics per such task, when
    `needs_statistics` says DMS may still list them (a running task lists only what it maps)."""
    out = []
    for c in changes:
        tasks = []
        for t in c.tasks:
            task = live.tasks.get(t.identifier)
            if task is None or t.action in (P.REPLACE, P.DELETE) or \
                    not any(tc.kind in (P.ADD, P.RELOAD, P.RESUME) for tc in t.tables):
                tasks.append(t)  # (most tasks: their TableMappings are not even parsed)
                continue
            mapped = task.tables
            coming_back = {(tc.schema, tc.table) for tc in t.tables
                           if tc.kind in (P.ADD, P.RELOAD, P.RESUME) and (tc.schema, tc.table) not in mapped}
            if not coming_back:
                tasks.append(t)
                continue
            known = {(tc.schema, tc.table) for tc in t.tables if tc.kind == P.RELOAD} & coming_back  # marked
            if coming_back - known and needs_statistics(task, t):
                known |= coming_back & {(s.schema, s.table) for s in stats.of(task)}

            def planned(tc: P.TableChange, coming_back: set[tuple[str, str]] = coming_back,
                        known: set[tuple[str, str]] = known) -> P.TableChange:
                if (tc.schema, tc.table) not in coming_back:
                    return tc
                if (tc.schema, tc.table) in known:
                    return dataclasses.replace(tc, kind=P.RELOAD, interrupted=True)
                return tc

            tables = tuple(planned(tc) for tc in t.tables)
            tasks.append(dataclasses.replace(t, tables=tables))
        out.append(dataclasses.replace(c, tasks=tuple(tasks)))
    return tuple(out)


def _summary(changes: tuple[P.StackChange, ...], steps: tuple[P.Step, ...]) -> P.Summary:
    def count(pred: Callable[[P.TaskChange], bool]) -> int:
        return sum(1 for c in changes for t in c.tasks if pred(t))

    def tables(kind: str) -> int:
        return sum(1 for c in changes for t in c.tasks for tc in t.tables if tc.kind == kind)

    stopped = {ident for s in steps for st in s.stacks for ident in st.stop}
    moved = moved_away(changes)
    reloading, rows, unknown = reload_counts(changes)
    return P.Summary(
        steps=len(steps),
        stacks_to_create=sum(1 for c in changes if c.action == P.CREATE),
        stacks_to_update=sum(1 for c in changes if c.action == P.UPDATE),
        stacks_to_delete=sum(1 for c in changes if c.action == P.DELETE),
        tasks_to_create=count(lambda t: t.action == P.CREATE),
        tasks_to_update=count(lambda t: t.action == P.UPDATE),
        tasks_to_replace=count(lambda t: t.action == P.REPLACE),
        tasks_to_delete=count(lambda t: t.action == P.DELETE) - len(moved),
        tasks_to_stop=len(stopped),
        tables_to_add=tables(P.ADD), tables_to_reload=tables(P.RELOAD), tables_to_remove=tables(P.REMOVE),
        tables_to_pause=tables(P.PAUSE), tables_to_resume=tables(P.RESUME),
        tasks_to_resume=count(lambda t: t.run_change == P.RESUME_TASK),
        tasks_held=count(lambda t: t.held is not None),
        tasks_to_reload=reloading, rows_to_reload=rows, rows_unknown=unknown)


def make_plan(result: CompileResult, gw: Gateway, flags: C.Flags = C.Flags()) -> Planned:
    """The plan of `result` against the account `gw` reads (read-only calls only). The cyclic garbage
    collector is paused meanwhile (deployer/gc_pause.py: a plan allocates much and makes no cycles)."""
    with cyclic_gc_paused():
        return _make_plan(result, gw, flags)


def _make_plan(result: CompileResult, gw: Gateway, flags: C.Flags) -> Planned:
    compiled = result.tree
    if compiled is None or result.config is None:
        raise ValueError("make_plan needs a compiled tree; report the compile diagnostics instead")
    live = read_live(gw, compiled)
    wrong_account = tuple(C.account_check(compiled.account_id, live.account_id))
    if wrong_account:  # read_live stopped at the account id: nothing to diff in another account
        refused = (*C.compile_checks(result.diagnostics), *wrong_account)
        plan = P.Plan(env=compiled.env, account_id=compiled.account_id, region=compiled.region, stacks=(),
                      steps=(), checks=tuple(sorted(refused, key=lambda c: (not c.blocks, c.code, c.message))))
        return Planned(plan=plan, bodies={}, live=live)
    stats = Statistics(gw)  # statistics are read fresh by every plan (apply's final check is a plan, too)
    changes, stopped_checks = _stopped_outside(_interrupted_reloads(diff(compiled, live), live, stats), live, gw)
    if compiled.base.name in live.stacks:  # no base stack, no state table: nothing was ever handed over
        changes = _resumed_handovers(changes, compiled, live, gw)

    inter = intermediate_stacks(result.config, changes)
    bodies = {s.template_sha256: s for s in compiled.stacks}
    bodies.update({s.template_sha256: s for s in inter.values()})
    templates = {s.name: StackTemplates(s.template_sha256, inter[s.name].template_sha256 if s.name in inter else None)
                 for s in compiled.stacks}
    compiled_tasks = {t.identifier: t for t in compiled.tasks()}
    waves, order_checks = stack_waves(changes, live, compiled.stacks, inter)
    steps = build_steps(changes, live, templates,
                        paused_tasks={i: t.paused for i, t in compiled_tasks.items()},
                        migration_types={i: SCHEDULED if t.schedule is not None else t.migration_type
                                         for i, t in compiled_tasks.items()},
                        externally_affected=_affected_by_exports(changes, compiled.stacks),
                        first_step_waves=waves)

    deployed: dict[str, dict[str, Any]] = {}
    for st in live.stacks.values():
        deployed.update({ident: props for ident, (_l, props) in _tasks_in(st.template).items()})
    wanted: dict[str, dict[str, Any]] = {}
    for s in compiled.stacks:
        wanted.update({ident: props for ident, (_l, props) in _tasks_in(s.template).items()})
    if flags.allow_drift:
        steps = _with_repairs(steps, C.drift_repairs(changes, live, deployed, wanted), live)

    # Targeted reads (needs_statistics, the one rule): table statistics of the tasks a step stops while DMS
    # counts a table loading, and of every task that reloads, is replaced or removed (its impact's rows);
    # S3 for every new prefix.
    to_stop = sorted({i for s in steps for st in s.stacks for i in st.stop})
    by_ident = {t.identifier: t for c in changes for t in c.tasks}
    stopping = {i: stats.of(live.tasks[i]) for i in to_stop
                if needs_statistics(live.tasks.get(i), by_ident.get(i), stopped=True)}
    impacted = {i: stats.of(live.tasks[i]) for i, t in by_ident.items()
                if i in live.tasks and needs_statistics(live.tasks[i], t)}
    errored = {i: stats.of(t) for i, t in sorted(live.tasks.items())
               if i in compiled_tasks and needs_statistics(t, None)}  # the tasks with a table in error
    changes = with_impacts(changes, steps, {**impacted, **stopping})
    users = {tc.s3_prefix: (t.team, t.task, tc.name, tc.kind) for c in changes for t in c.tasks for tc in t.tables
             if tc.s3_prefix and tc.kind in (P.ADD, P.RELOAD, P.RESUME) and not t.keeps_checkpoint
             and "{date}" not in tc.s3_prefix}  # a dated export checks its own folder when it runs
    for c in changes:  # a replaced task starts over: every one of its tables full-loads again
        for t in c.tasks:
            if t.action == P.REPLACE and t.restart_reloads_all and t.identifier in compiled_tasks:
                for tb in compiled_tasks[t.identifier].tables:
                    if not tb.paused and "{date}" not in tb.s3_prefix:
                        users.setdefault(tb.s3_prefix, (t.team, t.task, tb.name, P.REPLACE))
    nonempty = prefixes_with_objects(gw, compiled.datalake_bucket, sorted(users))

    owners = {t.identifier: (t.team, t.task) for c in changes for t in c.tasks}
    imports = {s.name: imports_of(s.template) for s in compiled.team_stacks}
    all_exports = set().union(*(exports_of(s.template) for s in compiled.stacks))
    scheduled = frozenset(i for i, t in compiled_tasks.items() if t.schedule is not None)
    checks = [*C.compile_checks(result.diagnostics),
              *C.stack_checks(changes, flags, all_exports, imports), *order_checks,
              *C.task_checks(changes, live, flags, scheduled), *slot_checks(changes, live),
              *C.drift_checks(changes, live, deployed, flags, wanted),
              *stopped_checks, *C.full_load_checks(stopping, owners, flags),
              *C.suspended_table_checks(errored, {i: (t.team, t.name) for i, t in compiled_tasks.items()},
                                        by_ident),
              *C.retire_checks(_other_copies(changes, compiled, live, stats), owners, flags),
              *C.s3_checks(nonempty, compiled.datalake_bucket, users),
              *C.target_folder_checks(live.stacks[compiled.base.name].template if compiled.base.name in live.stacks
                                      else {}, compiled.base.template),
              *prerequisites.service_role_checks(gw, compiled.account_id, compiled.env)]
    shown = tuple(c for c in changes if c.action != P.NONE or any(t.changed for t in c.tasks))
    plan = P.Plan(env=compiled.env, account_id=compiled.account_id, region=compiled.region, stacks=shown,
                  steps=steps, checks=tuple(sorted(checks, key=lambda c: (not c.blocks, c.code, c.message))),
                  summary=_summary(changes, steps))
    return Planned(plan=plan, bodies=bodies, live=live)
