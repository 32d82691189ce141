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

from dmsctl.compiler.diagnostics import Diagnostic
from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import moved_away, rewrites_mappings
from dmsctl.deployer.live import LiveState, TableStat
from dmsctl.deployer.mappings_semantics import mappings_equal, settings_subset

RUNNING = frozenset({"running", "starting"})
BAD_TASK_STATES = frozenset({"failed", "modifying", "moving", "stopping", "creating", "deleting"})
# Table states in which stopping the task restarts the table's load from zero. "Table is being reloaded"
# is DMS's state for a table reloaded by ReloadTables (TableStatistics.TableState).
LOADING_STATES = frozenset({"Before load", "Full load", "Table is being reloaded"})


def interrupts_a_load(stat: TableStat) -> bool:
    """Would stopping the task lose load work of this table? A table still "Before load" with no row
    copied has lost nothing yet (it is queued behind others): stopping only delays it."""
    if stat.state == "Before load" and stat.full_load_rows == 0:
        return False
    return stat.state in LOADING_STATES
GOOD_STACK_STATES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                               "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})


@dataclass(frozen=True)
class Flags:
    allow_replace: bool = False
    allow_delete: bool = False
    allow_drift: bool = False
    allow_interrupt: bool = False  # stop a task although a table of it is loading (P106): that load restarts


def _check(code: str, message: str, *, team: str | None = None, task: str | None = None, table: str | None = None,
           severity: str = "error", flag: str | None = None, acknowledged: bool = False) -> P.Check:
    if acknowledged:
        return P.Check(code, "warning", message, team, task, table, acknowledged_by=flag)
    return P.Check(code, severity, message + (f" (acknowledge with {flag})" if flag else ""), team, task, table)


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
            if t.changed and t.identifier in scheduled and live is not None and live.status in RUNNING:
                yield _check("P116", f"task {t.identifier} is in a scheduled run ({live.status}); a deploy would "
                             "stop it mid-run: wait for the run to finish (or stop it) and plan again",
                             team=t.team, task=t.task)
            if t.changed and live is not None and live.status in BAD_TASK_STATES:
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


def drift_checks(changes: tuple[P.StackChange, ...], state: LiveState, deployed: dict[str, dict[str, Any]],
                 flags: Flags, wanted: dict[str, dict[str, Any]] | None = None) -> Iterator[P.Check]:
    """Live DMS differs from what the deployed stack says (e.g. edited in the console).

    `wanted`: task identifier -> the compiled task properties. CloudFormation only sends a property the
    template changes, so the message says whether this plan overwrites the edit or leaves it in place.
    """
    wanted = wanted or {}
    for c in changes:
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
            if not mappings_equal(props.get("TableMappings"), live.mappings):
                rewritten = new is None or t.action == P.REPLACE or rewrites_mappings(props, new)
                what = ("this plan overwrites them" if rewritten else
                        "this plan leaves them as they are (the task's TableMappings do not change in the "
                        "template, so CloudFormation does not send them): undo the change in DMS, or change "
                        "the task's tables in the config")
                yield _check("P110", f"task {t.identifier}: its TableMappings in DMS differ from the deployed stack "
                             f"(changed outside dmsctl?); {what}", team=t.team, task=t.task,
                             flag="--allow-drift", acknowledged=flags.allow_drift)
            elif live.settings is not None and settings_subset(props.get("ReplicationTaskSettings"), live.settings):
                keys = ", ".join(settings_subset(props.get("ReplicationTaskSettings"), live.settings)[:5])
                yield _check("P110", f"task {t.identifier}: settings in DMS differ from the deployed stack ({keys})",
                             team=t.team, task=t.task, flag="--allow-drift", acknowledged=flags.allow_drift)


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


def compile_checks(diagnostics: Iterable[Diagnostic]) -> Iterator[P.Check]:
    for d in diagnostics:
        if d.is_error:
            yield _check("P103", f"{d.location()} {d.code}: {d.message}")


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
