"""Every go/no-go check turns a plan to no-go with a clear message (pure; no AWS)."""

from __future__ import annotations

import json

from dmsctl.compiler.diagnostics import Diagnostic
from dmsctl.deployer import checks as C
from dmsctl.deployer import plan as P
from dmsctl.deployer.live import LiveState, LiveTask, TableStat


def task(ident="dmsctl-a-t", action=P.UPDATE, tables=(), **kw) -> P.TaskChange:
    return P.TaskChange("a", "t", ident, action, tables=tuple(tables), **kw)


def stack(*tasks, action=P.UPDATE, status="UPDATE_COMPLETE", name="dmsctl-team-a") -> P.StackChange:
    return P.StackChange(name, "team", "a", action, status=status, tasks=tuple(tasks))


def live_task(ident="dmsctl-a-t", status="running", mappings='{"rules": []}', settings=None, **kw) -> LiveTask:
    return LiveTask(ident, "arn", status, "full-load-and-cdc", mappings, settings, "i", "s", "t", **kw)


def state(*tasks) -> LiveState:
    return LiveState("123456789012", {}, {t.identifier: t for t in tasks})


def codes(checks) -> list[tuple[str, str]]:
    return [(c.code, c.severity) for c in checks]


def test_p104_version_backwards():
    t = task(tables=[P.TableChange("s", "x", P.RELOAD, "v202101010000", "v202001010000")], table_count=3)
    found = list(C.task_checks((stack(t),), state(live_task()), C.Flags()))
    assert codes(found) == [("P104", "error")]
    assert "s.x" in found[0].message and "backwards" in found[0].message


def test_p105_nonempty_prefix_and_resume_hint():
    users = {"r/a/db/s/x/v1/": ("a", "t", "s.x", P.ADD), "r/a/db/s/y/v1/": ("a", "t", "s.y", P.RESUME)}
    found = list(C.s3_checks({"r/a/db/s/x/v1/": True, "r/a/db/s/y/v1/": True}, "lake", users))
    assert codes(found) == [("P105", "error")] * 2
    assert "s3://lake/r/a/db/s/x/v1/" in found[0].message and "bump" in found[0].message
    assert "resuming a paused table is a reload" in found[1].message
    assert list(C.s3_checks({"r/a/db/s/x/v1/": False}, "lake", users)) == []


def test_p115_missing_bucket():
    found = list(C.s3_checks({"p/": None}, "lake", {"p/": ("a", "t", "s.x", P.ADD)}))
    assert codes(found) == [("P115", "error")]


def test_p106_never_interrupt_a_full_load():
    stats = {"dmsctl-a-t": (TableStat("s", "big", "Full load", 123456), TableStat("s", "done", "Table completed"))}
    found = list(C.full_load_checks(stats, {"dmsctl-a-t": ("a", "t")}))
    assert codes(found) == [("P106", "error")]
    assert "s.big is in Full load" in found[0].message and "123,456 rows" in found[0].message


def test_p107_replacement_needs_acknowledgement_and_says_it_reloads():
    t = task(action=P.REPLACE, reasons=("MigrationType changes (cdc -> full-load-and-cdc)",), table_count=12,
             restart_reloads_all=True)
    blocked = list(C.task_checks((stack(t),), state(live_task()), C.Flags()))
    assert codes(blocked) == [("P107", "error")]
    assert "REPLACED" in blocked[0].message and "12 tables reloads from scratch" in blocked[0].message
    assert blocked[0].hint == "acknowledge with --allow-replace"
    ok = list(C.task_checks((stack(t),), state(live_task()), C.Flags(allow_replace=True)))
    assert codes(ok) == [("P107", "warning")] and ok[0].acknowledged_by == "--allow-replace"


def test_p108_deletes_need_acknowledgement():
    gone = stack(task(action=P.DELETE), action=P.DELETE)
    assert codes(C.stack_checks((gone,), C.Flags(), set(), {})) == [("P108", "error")]
    assert codes(C.stack_checks((gone,), C.Flags(allow_delete=True), set(), {})) == [("P108", "warning")]
    one = stack(task(action=P.DELETE))
    assert codes(C.task_checks((one,), state(live_task()), C.Flags())) == [("P108", "error")]


def test_p109_task_in_a_bad_state():
    for status in ("failed", "modifying", "moving", "stopping"):
        found = list(C.task_checks((stack(task(reasons=("x",))),),
                                   state(live_task(status=status, last_failure="boom")), C.Flags()))
        assert codes(found) == [("P109", "error")]
        assert status in found[0].message


def test_p110_drift_in_mappings_and_settings():
    deployed = {"dmsctl-a-t": {"TableMappings": json.dumps({"rules": [{"rule-id": "1", "rule-type": "selection"}]}),
                               "ReplicationTaskSettings": json.dumps({"Logging": {"EnableLogging": True}})}}
    edited = live_task(mappings=json.dumps({"rules": [{"rule-id": "2", "rule-type": "selection"}]}))
    found = list(C.drift_checks((stack(task()),), state(edited), deployed, C.Flags()))
    assert codes(found) == [("P110", "error")] and "differ from the deployed stack" in found[0].message
    # DMS's own normalisation (nulls, defaults, key order) is not drift
    same = live_task(mappings=json.dumps({"rules": [{"rule-type": "selection", "rule-id": 1, "filters": [],
                                                     "parallel-load": None}]}),
                     settings=json.dumps({"Logging": {"EnableLogging": True, "LogComponents": []}, "Extra": 1}))
    same_rules = json.dumps({"rules": [{"rule-id": "1", "rule-type": "selection"}]})
    deployed_same = {"dmsctl-a-t": {"TableMappings": same_rules,
                                    "ReplicationTaskSettings": json.dumps({"Logging": {"EnableLogging": True}})}}
    assert list(C.drift_checks((stack(task()),), state(same), deployed_same, C.Flags())) == []
    settings_edit = live_task(mappings=deployed_same["dmsctl-a-t"]["TableMappings"],
                              settings=json.dumps({"Logging": {"EnableLogging": False}}))
    found = list(C.drift_checks((stack(task()),), state(settings_edit), deployed_same, C.Flags(allow_drift=True)))
    assert codes(found) == [("P110", "warning")] and "Logging.EnableLogging" in found[0].message


def test_p110_is_scoped_to_touched_stacks_and_the_config_matching_dms_is_not_drift():
    rules = json.dumps({"rules": [{"rule-id": "1", "rule-type": "selection"}]})
    console = json.dumps({"rules": [{"rule-id": "2", "rule-type": "selection"}]})
    deployed = {"dmsctl-a-t": {"TableMappings": rules}}
    edited = state(live_task(mappings=console))
    untouched = stack(task(action=P.NONE), action=P.NONE)
    found = list(C.drift_checks((untouched,), edited, deployed, C.Flags()))
    assert codes(found) == [("P110", "warning")]  # another team's console edit blocks nobody
    assert "this plan does not touch stack dmsctl-team-a, so it leaves them as they are" in found[0].message
    found = list(C.drift_checks((stack(task()),), edited, deployed, C.Flags()))
    assert codes(found) == [("P110", "error")] and found[0].hint == "acknowledge with --allow-drift"
    # the team copied DMS's value into its config: the deploy brings the stack in line, nothing to refuse
    matching = {"dmsctl-a-t": {"TableMappings": console}}
    assert list(C.drift_checks((stack(task()),), edited, deployed, C.Flags(), matching)) == []


def test_drift_repairs_are_the_drifted_tasks_the_deploy_leaves_alone():
    rules = json.dumps({"rules": [{"rule-id": "1", "rule-type": "selection"}]})
    console = json.dumps({"rules": [{"rule-id": "2", "rule-type": "selection"}]})
    deployed = {"dmsctl-a-t": {"TableMappings": rules, "ReplicationTaskSettings": "{}"}}
    edited = state(live_task(mappings=console))
    assert C.drift_repairs((stack(task(action=P.NONE), action=P.NONE),), edited, deployed, deployed) == {
        "dmsctl-team-a": ("dmsctl-a-t",)}
    rewritten = {"dmsctl-a-t": {"TableMappings": json.dumps({"rules": [{"rule-id": "3", "rule-type": "selection"}]}),
                                "ReplicationTaskSettings": "{}"}}
    assert C.drift_repairs((stack(task()),), edited, deployed, rewritten) == {}  # CloudFormation sends them
    assert C.drift_repairs((stack(task()),), edited, deployed, {"dmsctl-a-t": {"TableMappings": console,
                                                                              "ReplicationTaskSettings": "{}"}}) == {}


def test_p112_stack_states():
    for status, hint in (("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"), ("ROLLBACK_COMPLETE", "delete"),
                         ("UPDATE_IN_PROGRESS", "wait")):
        found = list(C.stack_checks((stack(status=status),), C.Flags(), set(), {}))
        assert codes(found) == [("P112", "error")] and hint in found[0].message


def test_p102_imports_not_exported():
    found = list(C.stack_checks((stack(),), C.Flags(), {"x"}, {"dmsctl-team-a": {"x", "y"}}))
    assert codes(found) == [("P102", "error")] and "imports y" in found[0].message


def test_p113_reloading_every_table_in_place():
    t = task(tables=[P.TableChange("s", "x", P.RELOAD, "v202001010000", "v202101010000")], table_count=1)
    found = list(C.task_checks((stack(t),), state(live_task()), C.Flags()))
    assert codes(found) == [("P113", "error")] and "second task" in found[0].message


def test_p114_wrong_account():
    found = list(C.account_check("123456789012", "999999999999"))
    assert codes(found) == [("P114", "error")] and "999999999999" in found[0].message


def test_p103_compile_errors_block():
    found = list(C.compile_checks([Diagnostic("E206", "dup", "configs/teams/a.yaml", 3, 5)]))
    assert codes(found) == [("P103", "error")] and found[0].message == "E206: dup"
    assert found[0].location() == "configs/teams/a.yaml:3:5"  # the compiler's finding, at its place


def test_p106_a_table_queued_before_load_with_no_row_copied_does_not_block():
    stats = {"dmsctl-a-t": (TableStat("s", "queued", "Before load", 0), TableStat("s", "done", "Table completed"))}
    assert list(C.full_load_checks(stats, {"dmsctl-a-t": ("a", "t")})) == []
    started = {"dmsctl-a-t": (TableStat("s", "begun", "Before load", 10),)}
    assert codes(C.full_load_checks(started, {"dmsctl-a-t": ("a", "t")})) == [("P106", "error")]


def test_p106_a_table_being_reloaded_counts_as_loading():
    stats = {"dmsctl-a-t": (TableStat("s", "r", "Table is being reloaded", 5),)}
    assert codes(C.full_load_checks(stats, {"dmsctl-a-t": ("a", "t")})) == [("P106", "error")]


def test_p106_can_be_acknowledged_with_allow_interrupt_and_says_so():
    stats = {"dmsctl-a-t": (TableStat("s", "big", "Full load", 99),)}
    blocked = list(C.full_load_checks(stats, {"dmsctl-a-t": ("a", "t")}))
    assert blocked[0].hint == "acknowledge with --allow-interrupt"
    allowed = list(C.full_load_checks(stats, {"dmsctl-a-t": ("a", "t")}, C.Flags(allow_interrupt=True)))
    assert codes(allowed) == [("P106", "warning")] and allowed[0].acknowledged_by == "--allow-interrupt"
