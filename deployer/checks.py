"""Go/no-go checks over a diff and the live state. Pure: every input is already read.

Each check has a stable code (docs/CODES.md, "Plan checks"), a message naming team/task/table,
and a severity: "error" blocks the plan (no-go), "warning" does not. Some errors can be
acknowledged with a flag (--allow-replace, --allow-delete, --allow-drift), which turns them into
warnings that still say loudly what will happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dmsctl.compiler.findings import Finding
from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import moved_away, rewrites_mappings
from dmsctl.deployer.live import LiveState, TableStat
from dmsctl.deployer.mappings_semantics import mappings_equal, settings_subset
from dmsctl.deployer.task_states import BUSY, RUNNING, TABLE_COMPLETED, TABLE_ERROR, interrupts_a_load

GOOD_STACK_STATES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                               "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})


@dataclass(frozen=True)
class Flags:
    allow_replace: bool = False
    allow_delete: bool = False
    allow_drift: bool = False
    allow_interrupt: bool = False  # stop a task although a table of it is loading (P106): that load restarts

    def names(self) -> tuple[str, ...]:
        """The command-line flags these are."""
        pairs = (("--allow-replace", self.allow_replace), ("--allow-delete", self.allow_delete),
                 ("--allow-drift", self.allow_drift), ("--allow-interrupt", self.allow_interrupt))
        return tuple(flag for flag, on in pairs if on)

    def with_names(self, names: Iterable[str]) -> Flags:
        """These flags and the named ones."""
        names = set(names)
        return Flags(self.allow_replace or "--allow-replace" in names, self.allow_delete or "--allow-delete" in names,
                     self.allow_drift or "--allow-drift" in names,
                     self.allow_interrupt or "--allow-interrupt" in names)


def _check(code: str, message: str, *, team: str | None = None, task: str | None = None, table: str | None = None,
           severity: str = "error", flag: str | None = None, acknowledged: bool = False) -> P.Check:
    if acknowledged:
        return P.check(code, "warning", message, team, task, table, acknowledged_by=flag or "")
    return P.check(code, severity, message, team, task, table, hint=f"acknowledge with {flag}" if flag else "")


def account_check(expected: str, live: str) -> Iterator[P.Check]:
    if expected != live:
        yield _check("P114", f"credentials are for account {live}, but this environment is account {expected}: "
                     "refusing to plan against the wrong account")


def stack_checks(changes: tuple[P.StackChange, ...], flags: Flags, exports: set[str],
                 imports: dict[str, set[str]]) -> Iterator[P.Check]:
    for c in changes:
        if c.status and c.status not in GOOD_STACK_STATES and c.action != P.DELETE:
            yield _check("P112", f"stack {c.stack} is {c.status}: {_stack_hint(c.status)}", team=c.team)
        if c.action == P.DELETE:
            yield _check("P108", f"stack {c.stack} will be DELETED with all its tasks (data already in S3 stays)",
                         team=c.team, flag="--allow-delete", acknowledged=flags.allow_delete)
        for name in sorted(imports.get(c.stack, set()) - exports):
            yield _check("P102", f"stack {c.stack} imports {name}, which no stack of this plan exports",
                         team=c.team)


def _stack_hint(status: str) -> str:
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        return "it never finished creating: delete it (aws cloudformation delete-stack) and plan again"
    if status == "UPDATE_ROLLBACK_FAILED":
        return "run `aws cloudformation continue-update-rollback` and plan again"
    if status == "DELETE_FAILED":
        return ("a delete failed and CloudFormation cannot update the stack any more: see why in its events "
                "(aws cloudformation describe-stack-events), remove the cause, delete it again, then plan again")
    if status.endswith("_IN_PROGRESS"):
        return "wait for the operation in progress to finish"
    return "CloudFormation cannot update it in this state: see its events"


def task_checks(changes: tuple[P.StackChange, ...], state: LiveState, flags: Flags,
                scheduled: frozenset[str] = frozenset()) -> Iterator[P.Check]:
    moved = moved_away(changes)  # deleted here, created in another stack: P107 on the other side says it
    for c in changes:
        for t in c.tasks:
            live = state.tasks.get(t.identifier)
            for tc in t.tables:
                if tc.interrupted:
                    yield _check("P119", f"task {t.identifier}: {tc.name} is not in the task (a reload an earlier "
                                 "apply did not finish removed it, or it was paused before its version changed); "
                                 "it is not replicated until this apply adds it back. This plan runs both steps "
                                 f"of the reload, so {tc.new_version} full-loads into its new prefix",
                                 severity="warning", team=t.team, task=t.task, table=tc.name)
            if t.changed and t.identifier in scheduled and live is not None and live.status in RUNNING:
                yield _check("P116", f"task {t.identifier} is in a scheduled run ({live.status}); a deploy would "
                             "stop it mid-run: wait for the run to finish (or stop it) and plan again",
                             team=t.team, task=t.task)
            if t.changed and live is not None and live.status in BUSY:
                why = f": {live.last_failure}" if live.last_failure else ""
                yield _check("P109", f"task {t.identifier} is {live.status}{why}; fix it before changing it",
                             team=t.team, task=t.task)
            if t.action == P.REPLACE:
                tables = f"{t.table_count} table" + ("" if t.table_count == 1 else "s")
                if t.keeps_checkpoint:
                    outcome = (f"the new CDC task continues from the old task's recovery checkpoint (captured before "
                               f"the old task is removed): none of its {tables} reloads")
                elif t.cdc_gap:  # PostgreSQL source without slot_name: DMS refuses a start position there
                    outcome = (f"none of its {tables} reloads, but the new CDC task captures changes only from its "
                               "start: changes made between the two steps are NOT replicated (a PostgreSQL source "
                               "continues from a checkpoint only through a replication slot: set the source's "
                               "slot_name)")
                else:
                    outcome = (f"every one of its {tables} reloads from scratch (a migration_type: cdc task would "
                               "continue from the old task's checkpoint instead)")
                yield _check("P107", f"task {t.identifier} will be REPLACED ({'; '.join(t.reasons)}): {outcome}",
                             team=t.team, task=t.task, flag="--allow-replace", acknowledged=flags.allow_replace)
            if t.action == P.DELETE and c.action != P.DELETE and t.identifier not in moved:
                yield _check("P108", f"task {t.identifier} will be DELETED (data already in S3 stays)",
                             team=t.team, task=t.task, flag="--allow-delete", acknowledged=flags.allow_delete)
            for tc in t.tables:
                if tc.kind == P.RELOAD and tc.old_version and tc.new_version and tc.new_version < tc.old_version:
                    yield _check("P104", f"table {tc.name} in {t.identifier}: version goes backwards "
                                 f"({tc.old_version} -> {tc.new_version}); versions only increase",
                                 team=t.team, task=t.task, table=tc.name)
            reloads = [tc for tc in t.tables if tc.kind == P.RELOAD]
            later = [tc for tc in t.tables if tc.kind in (P.RELOAD, P.ADD, P.RESUME)]  # loaded in step 2
            if reloads and t.table_count == len(later) and t.action != P.REPLACE:
                also = " (the tables it adds or resumes come in step 2 too)" if len(later) > len(reloads) else ""
                yield _check("P113", f"task {t.identifier}: reloading every table in place{also} would leave the "
                             "task without tables between the two steps, which DMS refuses; reload in a second task "
                             "(new version next to the old one) instead", team=t.team, task=t.task)


def _touched(c: P.StackChange) -> bool:
    return c.action != P.NONE or any(t.changed for t in c.tasks)


def drift_repairs(changes: tuple[P.StackChange, ...], state: LiveState, deployed: dict[str, dict[str, Any]],
                  wanted: dict[str, dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Stack -> tasks whose TableMappings or settings in DMS differ from the config and that the deploy
    would leave as they are (CloudFormation only sends a property its template changes). With
    --allow-drift, apply sets them back to the config's values (ModifyReplicationTask) while the task
    is stopped for the deploy: acknowledged drift is repaired, not just tolerated."""
    out: dict[str, list[str]] = {}
    for c in changes:
        if c.action == P.DELETE:
            continue
        for t in c.tasks:
            props, live, new = deployed.get(t.identifier), state.tasks.get(t.identifier), wanted.get(t.identifier)
            if props is None or live is None or new is None or t.action in (P.DELETE, P.REPLACE):
                continue
            mappings_left = (not mappings_equal(new.get("TableMappings"), live.mappings)
                             and not rewrites_mappings(props, new))
            settings_left = (live.settings is not None and bool(settings_subset(new.get("ReplicationTaskSettings"),
                                                                                live.settings))
                             and props.get("ReplicationTaskSettings") == new.get("ReplicationTaskSettings"))
            if mappings_left or settings_left:
                out.setdefault(c.stack, []).append(t.identifier)
    return {k: tuple(v) for k, v in out.items()}


def drift_checks(changes: tuple[P.StackChange, ...], state: LiveState, deployed: dict[str, dict[str, Any]],
                 flags: Flags, wanted: dict[str, dict[str, Any]] | None = None) -> Iterator[P.Check]:
    """Live DMS differs from what the deployed stack says (e.g. edited in the console).

    `wanted`: task identifier -> the compiled task properties. A live value equal to the config's is
    not drift (the config was changed to match: the deploy brings the stack in line). Drift in a stack
    this plan does not touch is a warning: one team's console edit never blocks another team's change.
    In a stack it touches it blocks, unless acknowledged (--allow-drift), and then apply repairs it.
    """
    wanted = wanted or {}
    for c in changes:
        touched = _touched(c)
        for t in c.tasks:
            props = deployed.get(t.identifier)
            live = state.tasks.get(t.identifier)
            if props is None:
                if t.action == P.CREATE and live is not None:
                    yield _check("P110", f"task {t.identifier} already exists in DMS but no stack deploys it "
                                 "(created outside dmsctl, or left behind by a deleted stack): CloudFormation "
                                 "cannot create a task of that name; delete it in DMS (its data in S3 stays) "
                                 "and plan again", team=t.team, task=t.task)
                continue
            if live is None:
                if t.action in (P.UPDATE, P.REPLACE) and c.action != P.DELETE:
                    yield _check("P110", f"task {t.identifier} is in stack {c.stack} but does not exist in DMS: "
                                 "updating it would fail the stack update", team=t.team, task=t.task)
                elif t.action != P.DELETE:
                    yield _check("P110", f"task {t.identifier} is in stack {c.stack} but does not exist in DMS "
                                 "(deleted outside dmsctl?); CloudFormation does not recreate it: remove it from "
                                 "the config, apply, then add it back under new versions",
                                 team=t.team, task=t.task, flag="--allow-drift", acknowledged=flags.allow_drift)
                continue
            new = wanted.get(t.identifier)
            drifted: list[str] = []
            if not mappings_equal(props.get("TableMappings"), live.mappings) and (
                    new is None or not mappings_equal(new.get("TableMappings"), live.mappings)):
                drifted.append("its TableMappings")
            keys = settings_subset(props.get("ReplicationTaskSettings"), live.settings) if live.settings else []
            if keys and (new is None or settings_subset(new.get("ReplicationTaskSettings"), live.settings)):
                drifted.append(f"settings ({', '.join(keys[:5])})")
            if not drifted:
                continue
            what = f"task {t.identifier}: {' and '.join(drifted)} in DMS differ from the deployed stack " \
                   "(changed outside dmsctl?)"
            if new is not None and (t.action == P.REPLACE or rewrites_mappings(props, new)):
                repair = "this plan overwrites them with the config's"
            else:
                repair = ("with --allow-drift, apply sets them back to the config's values; or change the config "
                          "to match DMS")
            if not touched and not flags.allow_drift:
                yield _check("P110", f"{what}; this plan does not touch stack {c.stack}, so it leaves them as "
                             f"they are ({repair})", severity="warning", team=t.team, task=t.task)
            else:
                done = repair if repair.startswith("this plan") else "this apply sets them back to the config's values"
                yield _check("P110", f"{what}; {done if flags.allow_drift else repair}", team=t.team,
                             task=t.task, flag="--allow-drift", acknowledged=flags.allow_drift)


@dataclass(frozen=True)
class OtherCopy:
    """Another task replicating the same source table (another version, in another task)."""

    task: str  # identifier
    version: str
    state: str | None  # its TableStatistics state; None when DMS does not have it yet (not loaded)


def retire_checks(copies: dict[tuple[str, str, str], tuple[OtherCopy, ...]], owners: dict[str, tuple[str, str]],
                  flags: Flags) -> Iterator[P.Check]:
    """Retiring a table's copy (removing it, or deleting its task) while every other copy of the same
    source table is still in its first full load leaves the data lake without a complete copy if that
    load fails or is stopped. `copies`: (task removing it, schema, table) -> the other copies."""
    for (ident, schema, table), others in sorted(copies.items()):
        if not others or any(o.state == TABLE_COMPLETED for o in others):
            continue
        names = ", ".join(f"{o.version} in task {o.task} ({o.state or 'not loaded yet'})" for o in others)
        team, task = owners.get(ident, (None, None))
        yield _check("P122", f"task {ident} stops replicating {schema}.{table} while its other copy has not "
                     f"completed its full load: {names}; retire the old copy once the new one is loaded "
                     "(plan again then)", team=team, task=task, table=f"{schema}.{table}", flag="--allow-delete",
                     acknowledged=flags.allow_delete)


def full_load_checks(stopped: dict[str, tuple[TableStat, ...]], owners: dict[str, tuple[str, str]],
                     flags: Flags = Flags()) -> Iterator[P.Check]:
    """A full load is never interrupted: a task the plan stops must have no table loading, unless that is
    acknowledged (--allow-interrupt: a stuck or very long load must not block every fix to its task)."""
    for ident, stats in sorted(stopped.items()):
        team, task = owners.get(ident, ("", ""))
        loading = [s for s in stats if interrupts_a_load(s)]
        for s in loading[:10]:
            yield _check("P106", f"task {ident} would be stopped while {s.schema}.{s.table} is in {s.state} "
                         f"({s.full_load_rows:,} rows so far): stopping restarts that load from zero; wait until it "
                         "completes, then plan again", team=team, task=task, table=f"{s.schema}.{s.table}",
                         flag="--allow-interrupt", acknowledged=flags.allow_interrupt)
        if len(loading) > 10:
            yield _check("P106", f"task {ident}: {len(loading) - 10} more tables are loading", team=team, task=task,
                         flag="--allow-interrupt", acknowledged=flags.allow_interrupt)


def suspended_table_checks(errored: dict[str, tuple[TableStat, ...]], owners: dict[str, tuple[str, str]],
                           changes: dict[str, P.TaskChange]) -> Iterator[P.Check]:
    """Tables DMS suspended after an error (TableState "Table error", counted by TablesErrored: A77): DMS
    applies none of their changes any more while the task and its other tables go on, so the lake copy
    silently falls behind. One warning per task, naming the tables; a table this plan reloads or removes
    is left out (its new version loads it again into a new folder)."""
    for ident, stats in sorted(errored.items()):
        team, task = owners.get(ident, ("", ""))
        change = changes.get(ident)
        handled = {(tc.schema, tc.table) for tc in (change.tables if change else ()) if tc.kind in (P.RELOAD, P.REMOVE)}
        names = sorted(f"{s.schema}.{s.table}" for s in stats if s.state == TABLE_ERROR
                       and (s.schema, s.table) not in handled)
        if not names:
            continue
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        yield _check("P126", f"task {ident}: DMS suspended {len(names)} table(s) after an error (TableState "
                     f"\"{TABLE_ERROR}\"): {shown}; none of their changes are replicated any more (the task's other "
                     "tables go on). Find the cause in the task's CloudWatch log, then bump each table's version: "
                     "the new version loads it again into a new folder, the old folder stays as it is",
                     severity="warning", team=team, task=task, table=names[0] if len(names) == 1 else None)


def s3_checks(nonempty: dict[str, bool | None], bucket: str,
              users: dict[str, tuple[str, str, str, str]]) -> Iterator[P.Check]:
    """A table that starts loading must not write into a prefix that already holds data. `nonempty`:
    prefix -> holds objects (None: the bucket does not exist), as live.prefixes_with_objects says."""
    if any(has is None for has in nonempty.values()):
        yield _check("P115", f"the data-lake bucket s3://{bucket} does not exist (or is not visible to these "
                     "credentials): create it before deploying")
    for prefix, has in sorted(nonempty.items()):
        if not has:
            continue
        team, task, table, kind = users[prefix]
        hint = ("resuming a paused table is a reload: bump its version" if kind == P.RESUME
                else "a replaced task full-loads every table again: bump the versions of its tables"
                if kind == P.REPLACE else "bump the table's version so it loads into a new prefix")
        yield _check("P105", f"s3://{bucket}/{prefix} already holds data and {table} would load into it "
                     f"(never overwrite replicated data): {hint}", team=team, task=task, table=table)


def compile_checks(diagnostics: Iterable[Finding]) -> Iterator[P.Check]:
    for d in diagnostics:
        if d.is_error:
            yield P.Check("P103", f"{d.code}: {d.message}", file=d.file, line=d.line, column=d.column,
                          resource=d.resource, hint=d.hint)


def order_conflict(stack: str, team_stack: str, gone: set[str], needs: set[str], team: str) -> P.Check:
    return _check("P117", f"stack {stack} must deploy before {team_stack} (which stops exporting "
                  f"{', '.join(sorted(gone))}) and after it (it imports {', '.join(sorted(needs))}, which that "
                  "deploy adds): split this change in two pull requests, the removal first", team=team)


def target_folder_checks(old_base: dict[str, Any], new_base: dict[str, Any]) -> Iterator[P.Check]:
    """A shared S3 target endpoint's BucketFolder (the data lake's root prefix) changes: every task using it
    writes its next changes under the new prefix, while its full-loaded data stays under the old one."""
    def folders(template: dict[str, Any]) -> dict[str, str]:
        return {lid: (r.get("Properties", {}).get("S3Settings") or {}).get("BucketFolder", "")
                for lid, r in (template.get("Resources") or {}).items() if r.get("Type") == "AWS::DMS::Endpoint"}

    old, new = folders(old_base), folders(new_base)
    for lid in sorted(set(old) & set(new)):
        if old[lid] != new[lid]:
            yield _check("P118", f"target endpoint {lid}: the data-lake root prefix changes from '{old[lid]}' to "
                         f"'{new[lid]}': the tasks using it write their next changes under the new prefix, but no "
                         "table reloads there (its full load stays under the old one); bump the versions of the "
                         "tables that should be complete under the new prefix", severity="warning")
