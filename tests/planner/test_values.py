"""Values (old -> new, in config names) and impact labels of a plan, on hand-built live state (pure; no AWS)."""

from __future__ import annotations

import copy
import dataclasses
import json

from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import resource_changes
from dmsctl.deployer.impact import task_impact, with_impacts
from dmsctl.deployer.live import LiveTask, TableStat
from dmsctl.deployer.plan_values import HIDDEN, NO_NAMES, Names, attributes, property_changes
from dmsctl.deployer.planner import needs_statistics
from dmsctl.deployer.render import render_markdown, render_text
from dmsctl.deployer.render.common import impact_text
from tests.deployer.livestate import deployed, with_task
from tests.deployer.test_diff import compile_docs, example_docs, plan_steps, task_change

INSTANCE, ENDPOINT = "AWS::DMS::ReplicationInstance", "AWS::DMS::Endpoint"


def _change(changes, logical_id) -> P.ResourceChange:
    return next(r for c in changes for r in c.resources if r.logical_id == logical_id)


def test_compiled_stacks_know_the_config_names_of_their_resources(tmp_path):
    tree = compile_docs(tmp_path, example_docs()).tree
    growth = next(s for s in tree.stacks if s.name == "dmsctl-team-growth")
    assert growth.resource("InstanceGrowthMain").label == "instance growth-main"
    source = growth.resource("SourceUsersdb")
    assert source.label == "source usersdb"
    assert dict(source.record)["server"] == "usersdb.staging.internal.acme.io"
    assert tree.base.resource("TargetS31min").label == "target s3-1min"


def test_an_instance_class_change_shows_old_and_new_under_the_config_name(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs["growth"]["instances"]["growth-main"]["class"]["staging"] = "dms.r5.large"
    changes, _ = plan_steps(compile_docs(tmp_path / "b", docs), deployed(before.tree))
    change = _change(changes, "InstanceGrowthMain")
    assert (change.name, change.action) == ("instance growth-main", P.UPDATE)
    assert change.values == (P.ValueChange("class", "dms.t3.medium", "dms.r5.large"),)
    cdc = task_change(changes, "dmsctl-growth-users-cdc")
    assert "instance growth-main changes (the task is stopped while it does)" in cdc.reasons


def test_a_setting_change_shows_the_value_dms_runs_and_the_new_one(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 90
    after = compile_docs(tmp_path / "b", docs)
    # DMS enriches what it stores (server defaults for keys nobody sent): not a change
    live = json.loads(next(t for t in before.tree.tasks() if t.name == "foodsearch").settings)
    live["ErrorBehavior"]["SomeServerDefault"] = 7
    state = with_task(deployed(before.tree), "dmsctl-food-foodsearch", settings=json.dumps(live))
    changes, _ = plan_steps(after, state)
    tc = task_change(changes, "dmsctl-food-foodsearch")
    assert tc.values == (P.ValueChange("settings.ChangeProcessingTuning.BatchApplyTimeoutMax", "60", "90"),)
    assert tc.action == P.UPDATE and not any("settings" in r for r in tc.reasons)


def test_a_new_resource_shows_what_a_reviewer_checks(tmp_path):
    docs = example_docs()
    before = compile_docs(tmp_path / "a", docs)
    docs = copy.deepcopy(docs)
    docs["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    docs["growth"]["sources"]["eventsdb"] = {"engine": "postgres", "server": "events.internal", "port": 5432,
                                             "database": "events", "secret_id": "dms/growth/events"}
    changes, _ = plan_steps(compile_docs(tmp_path / "b", docs), deployed(before.tree))
    instance = _change(changes, "InstanceGrowthSpare")
    assert instance.name == "instance growth-spare"
    assert {v.path: v.new for v in instance.values} == {"class": "dms.t3.medium", "storage_gb": "50",
                                                         "multi_az": "false"}
    source = {v.path: v.new for v in _change(changes, "SourceEventsdb").values}
    assert source["server"] == "events.internal" and source["database"] == "events"
    assert source["secret_id"] == "dms/growth/events" and source["engine"] == "postgres"
    assert all(v.old is None for v in instance.values)


def test_a_removed_resource_is_named_by_its_identifier(tmp_path):
    docs = example_docs()
    docs["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    before = compile_docs(tmp_path / "a", docs)
    del docs["growth"]["instances"]["growth-spare"]
    changes, _ = plan_steps(compile_docs(tmp_path / "b", docs), deployed(before.tree))
    assert _change(changes, "InstanceGrowthSpare").name == "instance dmsctl-growth-growth-spare"


def test_a_password_value_never_appears():
    old = {"EngineName": "postgres", "Password": "hunter2", "PostgreSqlSettings": {"SecretsManagerSecretId": "a"}}
    new = {"EngineName": "postgres", "Password": "correct-horse", "PostgreSqlSettings": {"SecretsManagerSecretId": "b"}}
    values = property_changes(ENDPOINT, old, new, NO_NAMES)
    assert P.ValueChange("Password", HIDDEN, HIDDEN) in values
    assert P.ValueChange("secret_id", "a", "b") in values  # ids are shown
    created = attributes(ENDPOINT, new, NO_NAMES)
    change = P.ResourceChange("SourceX", ENDPOINT, P.UPDATE, "source x", values)
    plan = P.Plan("staging", "1", "eu-west-1", (P.StackChange("s", "team", "t", P.UPDATE, tasks=(), resources=(
        change, P.ResourceChange("SourceY", ENDPOINT, P.CREATE, "source y", created))),), (), ())
    for text in (render_text(plan), render_markdown(plan), plan.to_json()):
        assert "hunter2" not in text and "correct-horse" not in text


def test_a_password_in_a_deployed_template_stays_hidden_in_the_diff():
    old = {"Resources": {"SourceX": {"Type": ENDPOINT, "Properties": {"EngineName": "mysql", "Password": "hunter2",
                                                                      "ServerName": "a"}}}}
    new = {"Resources": {"SourceX": {"Type": ENDPOINT, "Properties": {"EngineName": "mysql"}}}}
    change = resource_changes(old, new, "eu-west-1", Names({"SourceX": "source x"}, {}))["SourceX"]
    assert change.name == "source x"
    assert P.ValueChange("Password", HIDDEN, None) in change.values
    assert P.ValueChange("ServerName", "a", None) in change.values


def test_nested_values_have_dotted_paths_and_references_config_names():
    names = Names({"InstanceGrowthMain": "instance growth-main"}, {"dmsctl-base-target-s3-1min-arn": "target s3-1min"})
    old = {"ReplicationInstanceArn": {"Ref": "InstanceGrowthMain"},
           "TargetEndpointArn": {"Fn::ImportValue": "dmsctl-base-target-s3-1min-arn"},
           "Tags": [{"Key": "owner", "Value": "a"}]}
    new = {"ReplicationInstanceArn": {"Ref": "InstanceGrowthSpare"},
           "TargetEndpointArn": {"Fn::ImportValue": "dmsctl-base-target-s3-10min-arn"},
           "Tags": [{"Key": "owner", "Value": "b"}]}
    values = property_changes("AWS::DMS::ReplicationTask", old, new, names)
    assert values == (P.ValueChange("Tags.owner", "a", "b"),
                      P.ValueChange("instance", "growth-main", "InstanceGrowthSpare"),
                      P.ValueChange("target", "s3-1min", "import dmsctl-base-target-s3-10min-arn"))
    s3 = property_changes(ENDPOINT, {"S3Settings": {"CdcMaxBatchInterval": 60}},
                          {"S3Settings": {"CdcMaxBatchInterval": 120}}, NO_NAMES)
    assert s3 == (P.ValueChange("flush_interval_seconds", "60", "120"),)
    assert property_changes(INSTANCE, {"X": {"Y": {"Z": 1}}}, {"X": {"Y": {"Z": 2}}}, NO_NAMES) == (
        P.ValueChange("X.Y.Z", "1", "2"),)


# Impact --------------------------------------------------------------------------------------------

def _task(action=P.UPDATE, **kwargs) -> P.TaskChange:
    return P.TaskChange("growth", "users-cdc", "dmsctl-growth-users-cdc", action, **kwargs)


def _reload(name: str) -> P.TableChange:
    return P.TableChange("users", name, P.RELOAD, "v1", "v2", f"replication/growth/usersdb/users/{name}/v2/")


STATS = {"dmsctl-growth-users-cdc": (TableStat("users", "accounts", "Table completed", 1000, inserts=50, deletes=10),
                                     TableStat("users", "sessions", "Table completed", 200))}


def test_impact_labels():
    stopped = {"dmsctl-growth-users-cdc"}
    assert task_impact(_task(values=(P.ValueChange("x", "1", "2"),)), set(), {}).label == "no stop"
    assert task_impact(_task(P.NONE, run_change=P.RESUME_TASK), set(), {}).label == "resumed (it was stopped)"
    assert task_impact(_task(P.NONE, run_change=P.PAUSE_TASK), stopped, {}).label == "paused (stopped until resumed)"
    assert task_impact(_task(values=(P.ValueChange("x", "1", "2"),)), stopped, {}).label == "stopped for the deploy"
    reload = task_impact(_task(tables=(_reload("accounts"),)), stopped, STATS)
    assert (impact_text(reload), reload.tables, reload.rows) == ("reload of 1 table, 1,040 rows", 1, 1040)
    partial = task_impact(_task(tables=(_reload("accounts"), _reload("devices"))), stopped, STATS)
    assert impact_text(partial) == "reload of 2 tables, 1,040 rows; 1 without statistics"
    unknown = task_impact(_task(tables=(_reload("accounts"),)), stopped, {})
    assert (impact_text(unknown), unknown.rows) == ("reload of 1 table, rows unknown: no table statistics", None)
    full = task_impact(_task(P.REPLACE, restart_reloads_all=True, table_count=2), stopped, STATS)
    assert (impact_text(full), full.rows) == ("replacement (full reload of 2 tables), 1,240 rows", 1240)
    hand_over = task_impact(_task(P.REPLACE, keeps_checkpoint=True), stopped, STATS)
    assert hand_over.label == "replacement (checkpoint hand-over)"
    assert task_impact(_task(P.DELETE), stopped, STATS).label == "removal"
    assert task_impact(_task(P.CREATE), set(), {}).label == "new task"


def test_the_tasks_that_need_statistics_are_stopped_reloading_replaced_or_removed():
    step = P.Step(1, "deploy", (P.StackStep("s", P.UPDATE, "x", stop=("stopped",)),))
    tasks = (P.TaskChange("t", "a", "stopped", P.UPDATE), P.TaskChange("t", "b", "reloads", P.UPDATE, tables=(
        _reload("accounts"),)), P.TaskChange("t", "c", "replaced", P.REPLACE), P.TaskChange("t", "d", "removed",
                                                                                             P.DELETE),
        P.TaskChange("t", "e", "removes", P.UPDATE, tables=(P.TableChange("u", "x", P.REMOVE, "v1"),)),
        P.TaskChange("t", "f", "added", P.UPDATE, tables=(P.TableChange("u", "x", P.ADD, None, "v1"),)),
        P.TaskChange("t", "g", "created", P.CREATE))
    stopped = {i for st in step.stacks for i in st.stop}

    def live(ident: str, loading: int | None) -> LiveTask:
        return LiveTask(ident, f"arn:{ident}", "running", "full-load-and-cdc", '{"rules": []}', None, "i", "s", "t",
                        tables_loading_or_queued=loading)

    needed = sorted(t.identifier for t in tasks
                    if needs_statistics(live(t.identifier, 1), t, stopped=t.identifier in stopped))
    assert needed == ["reloads", "removed", "removes", "replaced", "stopped"]
    # a stopped task with nothing loading or queued needs none (A75)
    assert not needs_statistics(live("stopped", 0), tasks[0], stopped=True)


def test_unchanged_tasks_carry_no_impact():
    changes = (P.StackChange("s", "team", "t", P.UPDATE, tasks=(_task(P.NONE), _task(tables=(_reload("a"),)))),)
    out = with_impacts(changes, (), {})
    assert out[0].tasks[0].impact is None
    assert out[0].tasks[1].impact is not None and out[0].tasks[1].impact.kind == P.IMPACT_RELOAD


def test_the_summary_line_counts_rows_to_reload():
    from dmsctl.deployer.render.common import summary_line
    from tests.render import plans

    plan = dataclasses.replace(plans.one_step(), summary=P.Summary(steps=1, tables_to_reload=2, tasks_to_stop=1,
                                                                   tasks_to_reload=1, rows_to_reload=12345,
                                                                   rows_unknown=1))
    assert summary_line(plan) == ("Plan: 1 step; 2 tables to reload, 1 task stopped; 1 task reloading 12,345 rows "
                                  "and 1 table without statistics.")


def test_a_property_written_differently_still_updates_the_task(tmp_path):
    """Tags in another order have the same values, but CloudFormation still updates the task: it stays an update."""
    result = compile_docs(tmp_path, example_docs())
    state = deployed(result.tree)
    stack = next(s for s in result.tree.stacks if s.name == "dmsctl-team-growth")
    template = copy.deepcopy(stack.template)
    props = template["Resources"]["TaskUsersCdc"]["Properties"]
    props["Tags"] = list(reversed(props["Tags"]))
    stacks = dict(state.stacks)
    stacks[stack.name] = dataclasses.replace(stacks[stack.name], template=template, outputs=())
    changes, _ = plan_steps(result, dataclasses.replace(state, stacks=stacks))
    tc = task_change(changes, "dmsctl-growth-users-cdc")
    assert tc.action == P.UPDATE and tc.values == ()
    assert tc.reasons == ("properties written differently (same values): Tags",)
