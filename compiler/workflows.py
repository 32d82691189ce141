"""The Step Functions state machines of scheduled tasks (docs/WORKFLOWS.md), as Amazon States Language.

Pure: `definition(spec)` returns the ASL document (a dict) of one task's machine, "export" for a
scheduled full-load task and "incremental" for a scheduled cdc / full-load-and-cdc task. Both follow
the run sequences of docs/WORKFLOWS.md step by step, through the AWS SDK service integrations
(databasemigration, s3) and the optimized DynamoDB and SNS integrations; no Lambda.

Values only CloudFormation knows (ARNs, the state table's name) appear as `${Name}` placeholders,
filled in by the state machine's DefinitionSubstitutions (see PLACEHOLDERS and `placeholders()`).

The run's time T is the execution's start time ($$.Execution.StartTime, e.g.
2026-11-01T02:00:03.125Z), split into its fields with States.StringSplit (every character of the
splitter separates): [YYYY, MM, DD, hh, mm, ss, ...]. From them: the export folder
<root>/<team>/export/<task>/YYYY/MM/DD[/hhmmss], the window end YYYY-MM-DDThh:mm:ssZ and the DMS stop
position server_time:YYYY-MM-DDThh:mm:ss.

Failures end in a Fail state naming what went wrong (Error) and why (Cause, built from the run's
data); when the team has notifications, the failure is published to its SNS topic first. A failed
AWS call is caught, published the same way, and ends in RunFailed with the call's own error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dmsctl.compiler import naming

DMS = "arn:aws:states:::aws-sdk:databasemigration:"
LIST_OBJECTS = "arn:aws:states:::aws-sdk:s3:listObjectsV2"
GET_ITEM = "arn:aws:states:::dynamodb:getItem"
PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
PUBLISH = "arn:aws:states:::sns:publish"

CONNECTION_POLL_SECONDS = 15  # docs/WORKFLOWS.md
TASK_POLL_SECONDS = 30
CONNECTION_POLLS_MAX = 60  # 15 minutes of connection test, as `dmsctl run`
# DescribeTableStatistics MaxRecords (20-500). Step Functions limits a connector's raw result, before any
# ResultSelector, and every state's input and output to 262,144 bytes (States.DataLimitExceeded, which no
# Catch on States.ALL catches). A TableStatistics row is ~800 bytes of JSON (~1.1 KB with 128-character
# names), so a page of 500 rows of a task with many tables exceeds it; 100 rows stay far under it, as
# raw result and as $.stats. (A ResultSelector cannot shrink the rows: JSONPath cannot keep some fields
# of every element of a list, and it cannot keep the page's optional Marker.)
STATS_PAGE = 100
MAP_CONCURRENCY = 10
POSTGRES_ENGINES = ("postgres", "aurora-postgresql")

# Placeholder -> what DefinitionSubstitutions gives it (render.py builds the values).
PLACEHOLDERS = {
    "TaskArn": "the replication task's ARN",
    "InstanceArn": "the task's replication instance ARN",
    "ExportEndpointArn": "the export task's S3 endpoint ARN",
    "DatalakeRoleArn": "the base stack's data-lake access role ARN",
    "StateTable": "the base stack's state table name",
    "TopicArn": "the team's events topic ARN",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")

# Fields a failure message reads from DMS rows that DMS may leave out: merged under the row first.
DEFAULTS = {"LastFailureMessage": "no reason given", "StopReason": "none", "Status": "unknown"}
CATCH_ALL = ["States.ALL"]
# Reads inside the polling loops are retried briefly (a throttled describe should not fail a long run).
READ_RETRY = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "MaxAttempts": 2, "BackoffRate": 2.0}]


@dataclass(frozen=True)
class WorkflowSpec:
    """What one task's state machine needs to know, without CloudFormation."""

    kind: str  # "export" | "incremental"
    task_id: str  # ReplicationTaskIdentifier
    migration_type: str
    notify: bool  # the team has notifications: publish failures to ${TopicArn}
    bucket: str = ""  # export: the data lake
    export_root: str = ""  # export: <root>/<team>/export/<task>
    output: str | None = None  # export: dated | timestamped
    s3_settings: dict = field(default_factory=dict)  # export: the endpoint's S3Settings except BucketFolder
    cdc_start_time: str | None = None  # incremental cdc: the first window's start
    source_engine: str = ""  # incremental: a PostgreSQL source has no custom CDC start time (native_start)

    @property
    def native_start(self) -> bool:
        """The first window of a cdc task starts at the task's native start point, not at cdc_start_time:
        PostgreSQL as a source doesn't support a custom CDC start time (DMS User Guide, "Using a PostgreSQL
        database as an AWS DMS source"). Started without a position, the task reads from where it starts
        (with the endpoint's SlotName, from that replication slot)."""
        return self.migration_type == "cdc" and self.source_engine in POSTGRES_ENGINES


def placeholders(asl: dict) -> set[str]:
    """The ${Name} placeholders a definition uses (each needs a DefinitionSubstitutions entry)."""
    return set(_PLACEHOLDER.findall(json.dumps(asl)))


def definition(spec: WorkflowSpec) -> dict:
    builder = _Builder(spec)
    if spec.kind == "export":
        return builder.export()
    if spec.kind == "incremental":
        return builder.incremental()
    raise ValueError(f"unknown workflow kind {spec.kind!r}")


def definition_json(spec: WorkflowSpec) -> str:
    """The DefinitionString: canonical compact JSON."""
    return json.dumps(definition(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# --- intrinsic-function helpers ------------------------------------------------------------------------
def _format(template: str, *args: str) -> str:
    """States.Format(template, args...): `template` is plain text with {} where each argument goes. It may
    not contain the characters intrinsic functions reserve (' { } \\): no dmsctl name can."""
    parts = template.split("{}")
    if len(parts) != len(args) + 1 or any(c in p for p in parts for c in "'{}\\"):
        raise ValueError(f"not a States.Format template for {len(args)} argument(s): {template!r}")
    return f"States.Format('{template}'" + "".join(f", {a}" for a in args) + ")"


def _time(i: int) -> str:
    """Field i of the run's start time: 0 year, 1 month, 2 day, 3 hour, 4 minute, 5 second."""
    return f"States.ArrayGetItem($.time.parts, {i})"


TIME_FIELDS = [_time(i) for i in range(6)]


class _Builder:
    def __init__(self, spec: WorkflowSpec):
        self.spec = spec
        self.states: dict[str, dict] = {}
        self.fail_states: list[str] = []  # explicit failure kinds, dispatched after the notification

    # -- building blocks --------------------------------------------------------------------------------
    def add(self, name: str, state: dict) -> str:
        assert name not in self.states, name
        self.states[name] = state
        return name

    def catch(self) -> list[dict]:
        return [{"ErrorEquals": CATCH_ALL, "ResultPath": "$.failure",
                 "Next": "NotifyFailure" if self.spec.notify else "RunFailed"}]

    def sdk(self, name: str, resource: str, parameters: dict, next_state: str, result_path: str | None = None,
            result_selector: dict | None = None, retry: bool = False) -> str:
        state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": result_path,
                 "Next": next_state, "Catch": self.catch()}
        if result_selector is not None:
            state["ResultSelector"] = result_selector
        if retry:
            state["Retry"] = READ_RETRY
        return self.add(name, state)

    def failure(self, kind: str, cause: str) -> str:
        """A failure path: the Pass state `<kind>Reason` sets $.failure = {Error: kind, Cause: cause (an
        intrinsic-function expression)}, then (after the notification) the Fail state `kind`."""
        self.fail_states.append(kind)
        self.add(kind, {"Type": "Fail", "Error": kind, "CausePath": "$.failure.Cause"})
        return self.add(f"{kind}Reason", {
            "Type": "Pass", "Parameters": {"Error": kind, "Cause.$": cause}, "ResultPath": "$.failure",
            "Next": "NotifyFailure" if self.spec.notify else kind})

    def finish(self, comment: str, start: str) -> dict:
        """The shared tail: NotifyFailure -> FailureKind? -> the explicit Fail state, or RunFailed."""
        self.add("RunFailed", {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"})
        if self.spec.notify:
            kind = "export" if self.spec.kind == "export" else "incremental"
            self.add("NotifyFailure", {
                "Type": "Task", "Resource": PUBLISH, "ResultPath": None, "Next": "FailureKind?",
                "Parameters": {
                    "TopicArn": "${TopicArn}",
                    "Subject": f"dmsctl: {kind} run of {self.spec.task_id} failed"[:99],
                    "Message.$": _format(f"The {kind} run of replication task {self.spec.task_id} failed. "
                                         "Execution: {}. Error: {}. Cause: {}",
                                         "$$.Execution.Id", "$.failure.Error", "$.failure.Cause")},
                "Catch": [{"ErrorEquals": CATCH_ALL, "ResultPath": "$.notification", "Next": "FailureKind?"}]})
            self.add("FailureKind?", {
                "Type": "Choice", "Default": "RunFailed",
                "Choices": [{"Variable": "$.failure.Error", "StringEquals": k, "Next": k} for k in self.fail_states]})
        return {"Comment": comment, "StartAt": start, "States": self.states}

    # -- shared sequences -------------------------------------------------------------------------------
    def parse_start_time(self, next_state: str) -> str:
        return self.add("ParseStartTime", {
            "Type": "Pass", "Next": next_state,
            "Comment": "The run's time T: $$.Execution.StartTime split into [YYYY, MM, DD, hh, mm, ss, ...]",
            "Parameters": {"time": {"parts.$": "States.StringSplit($$.Execution.StartTime, '-T:.Z')"},
                           "polls": {"connection": 0}, "defaults": DEFAULTS}})

    def describe_task(self, name: str, next_state: str, retry: bool = False) -> str:
        return self.sdk(name, DMS + "describeReplicationTasks",
                        {"Filters": [{"Name": "replication-task-arn", "Values": ["${TaskArn}"]}],
                         "WithoutSettings": True},
                        next_state, result_path="$.task", result_selector={"Task.$": "$.ReplicationTasks[0]"},
                        retry=retry)

    def startable(self, next_state: str) -> str:
        busy = self.failure("TaskBusy", _format(
            f"replication task {self.spec.task_id} is {{}}: a run starts only a ready, stopped or failed task "
            "(is another run of it in progress?). Nothing was changed", "$.task.Task.Status"))
        return self.add("TaskStartable?", {
            "Type": "Choice", "Default": busy,
            "Choices": [{"Or": [{"Variable": "$.task.Task.Status", "StringEquals": s} for s in
                                ("ready", "stopped", "failed")], "Next": next_state}]})

    def wait_for_task(self, finished_reason: str, success: str, what: str) -> None:
        """WaitForTask -> DescribeTaskRun -> TaskStopped? (loop) -> StoppedWhy? -> `success`, or TaskFailed."""
        # The failure message reads the task's row merged over DEFAULTS: a field DMS left out cannot break it.
        failed = self.failure("TaskFailed", _format(
            f"replication task {self.spec.task_id} is {{}} (stop reason: {{}}) before {what}: {{}}",
            "$.failed_row.row.Status", "$.failed_row.row.StopReason", "$.failed_row.row.LastFailureMessage"))
        details = self.add("TaskFailureDetails", {
            "Type": "Pass", "Parameters": {"row.$": "States.JsonMerge($.defaults, $.task.Task, false)"},
            "ResultPath": "$.failed_row", "Next": failed})
        self.add("WaitForTask", {"Type": "Wait", "Seconds": TASK_POLL_SECONDS, "Next": "DescribeTaskRun"})
        self.describe_task("DescribeTaskRun", "TaskStopped?", retry=True)
        self.add("TaskStopped?", {"Type": "Choice", "Default": "WaitForTask", "Choices": [
            {"Variable": "$.task.Task.Status", "StringEquals": "stopped", "Next": "StoppedWhy?"},
            {"Variable": "$.task.Task.Status", "StringEquals": "failed", "Next": details}]})
        self.add("StoppedWhy?", {"Type": "Choice", "Default": details, "Choices": [
            {"Not": {"Variable": "$.task.Task.StopReason", "IsPresent": True}, "Next": details},
            {"Variable": "$.task.Task.StopReason", "StringMatches": f"*{finished_reason}*", "Next": success}]})

    # -- export --------------------------------------------------------------------------------------------
    def export(self) -> dict:
        s, tid = self.spec, self.spec.task_id
        if s.output == "timestamped":
            folder = _format(s.export_root + "/{}/{}/{}/{}{}{}", *TIME_FIELDS)
        else:
            folder = _format(s.export_root + "/{}/{}/{}", *TIME_FIELDS[:3])
        self.parse_start_time("ExportFolder")
        self.add("ExportFolder", {
            "Type": "Pass", "Next": "DescribeTask", "ResultPath": "$.run",
            "Comment": "Step 1: the export folder of this run",
            "Parameters": {"folder.$": folder, "prefix.$": _format("{}/", folder)}})
        self.describe_task("DescribeTask", "TaskStartable?")
        self.startable("ListExportFolder")
        not_empty = self.failure("ExportFolderNotEmpty", _format(
            f"s3://{s.bucket}/{{}} already holds objects: an export never overwrites, so the export of {tid} "
            "was not run. Nothing was changed", "$.run.prefix"))
        self.sdk("ListExportFolder", LIST_OBJECTS, {"Bucket": s.bucket, "Prefix.$": "$.run.prefix", "MaxKeys": 1},
                 "ExportFolderEmpty?", result_path="$.listing", result_selector={"KeyCount.$": "$.KeyCount"})
        self.add("ExportFolderEmpty?", {"Type": "Choice", "Default": "PointEndpointAtFolder", "Choices": [
            {"Variable": "$.listing.KeyCount", "NumericGreaterThan": 0, "Next": not_empty}]})
        settings = dict(s.s3_settings)
        settings["BucketFolder.$"] = "$.run.folder"
        self.sdk("PointEndpointAtFolder", DMS + "modifyEndpoint",
                 {"EndpointArn": "${ExportEndpointArn}", "S3Settings": settings}, "WaitForConnectionTest")
        # Step 3: the connection test DMS makes after the change.
        self.add("WaitForConnectionTest", {"Type": "Wait", "Seconds": CONNECTION_POLL_SECONDS,
                                           "Next": "DescribeConnection"})
        self.sdk("DescribeConnection", DMS + "describeConnections",
                 {"Filters": [{"Name": "endpoint-arn", "Values": ["${ExportEndpointArn}"]},
                              {"Name": "replication-instance-arn", "Values": ["${InstanceArn}"]}]},
                 "ConnectionTested?", result_path="$.connection", result_selector={"Connections.$": "$.Connections"},
                 retry=True)
        conn_failed = self.failure("ConnectionTestFailed", _format(
            f"the connection test of the export endpoint of {tid} failed: {{}}. The task was not started",
            "$.failed_row.row.LastFailureMessage"))
        self.add("ConnectionFailureDetails", {
            "Type": "Pass", "ResultPath": "$.failed_row", "Next": conn_failed,
            "Parameters": {"row.$": "States.JsonMerge($.defaults, $.connection.Connections[0], false)"}})
        self.add("ConnectionTested?", {"Type": "Choice", "Default": "CountConnectionTest", "Choices": [
            {"Not": {"Variable": "$.connection.Connections[0]", "IsPresent": True}, "Next": "FirstExport?"},
            {"Variable": "$.connection.Connections[0].Status", "StringEquals": "successful", "Next": "FirstExport?"},
            {"Variable": "$.connection.Connections[0].Status", "StringEquals": "failed",
             "Next": "ConnectionFailureDetails"}]})
        timed_out = self.failure("ConnectionTestTimedOut", _format(
            f"the connection test of the export endpoint of {tid} was still running after "
            f"{CONNECTION_POLLS_MAX * CONNECTION_POLL_SECONDS} s (the endpoint now writes to {{}}). The task was "
            "not started", "$.run.folder"))
        self.add("CountConnectionTest", {
            "Type": "Pass", "ResultPath": "$.polls", "Next": "ConnectionTestTooLong?",
            "Parameters": {"connection.$": "States.MathAdd($.polls.connection, 1)"}})
        self.add("ConnectionTestTooLong?", {"Type": "Choice", "Default": "WaitForConnectionTest", "Choices": [
            {"Variable": "$.polls.connection", "NumericGreaterThanEquals": CONNECTION_POLLS_MAX, "Next": timed_out}]})
        # Step 4: start-replication if the task never ran, else reload-target.
        self.add("FirstExport?", {"Type": "Choice", "Default": "StartReplication", "Choices": [
            {"Variable": "$.task.Task.ReplicationTaskStartDate", "IsPresent": True, "Next": "ReloadTarget"}]})
        for name, start_type in (("StartReplication", "start-replication"), ("ReloadTarget", "reload-target")):
            self.sdk(name, DMS + "startReplicationTask",
                     {"ReplicationTaskArn": "${TaskArn}", "StartReplicationTaskType": start_type}, "WaitForTask")
        # Step 5: until stopped (FULL_LOAD_ONLY_FINISHED) or failed.
        self.wait_for_task("FULL_LOAD_ONLY_FINISHED", "Succeeded", "its full load finished")
        self.add("Succeeded", {"Type": "Succeed"})
        return self.finish(f"dmsctl export run of {tid}: a full load into a new {s.output or 'dated'} folder under "
                           f"s3://{s.bucket}/{s.export_root}/ (docs/WORKFLOWS.md)", "ParseStartTime")

    def _start_from_checkpoint(self) -> None:
        self.sdk("StartFromCheckpoint", DMS + "startReplicationTask",
                 {"ReplicationTaskArn": "${TaskArn}", "StartReplicationTaskType": "start-replication",
                  "CdcStartPosition.$": "$.checkpoint.Item.checkpoint.S",
                  "CdcStopPosition.$": "$.run.stop_position"}, "WaitForTask")

    # -- incremental ---------------------------------------------------------------------------------------
    def incremental(self) -> dict:
        s, tid = self.spec, self.spec.task_id
        checkpoint_pk, metrics_pk = naming.checkpoint_key(tid), naming.metrics_key(tid)
        self.parse_start_time("RunWindow")
        self.add("RunWindow", {
            "Type": "Pass", "Next": "GetCheckpoint", "ResultPath": "$.run",
            "Comment": "The window ends at T",
            "Parameters": {"window_end.$": _format("{}-{}-{}T{}:{}:{}Z", *TIME_FIELDS),
                           "stop_position.$": _format("server_time:{}-{}-{}T{}:{}:{}", *TIME_FIELDS),
                           "run.$": "$$.Execution.Name"}})
        # Step 1: the latest checkpoint.
        self.sdk("GetCheckpoint", GET_ITEM,
                 {"TableName": "${StateTable}", "ConsistentRead": True,
                  "Key": {"pk": {"S": checkpoint_pk}, "sk": {"S": "latest"}}},
                 "DescribeTask", result_path="$.checkpoint")
        self.describe_task("DescribeTask", "TaskStartable?")
        self.startable("HasCheckpoint?")
        empty = self.failure("WindowEmpty", _format(
            f"the window of {tid} would start at {{}}, not before the run time {{}}: nothing to capture. "
            "Nothing was changed", "$.window.start", "$.run.window_end"))
        self.add("HasCheckpoint?", {"Type": "Choice", "Default": "NoCheckpoint", "Choices": [
            {"Variable": "$.checkpoint.Item", "IsPresent": True, "Next": "WindowFromCheckpoint"}]})
        after_start = "WindowAfterStart?"
        self.add("WindowFromCheckpoint", {
            "Type": "Pass", "ResultPath": "$.window", "Next": after_start,
            "Parameters": {"start.$": "$.checkpoint.Item.window_end.S",
                           "attrs": {"window_start": {"S.$": "$.checkpoint.Item.window_end.S"}}}})
        # Step 2: start. The window must end after it starts (T after the checkpoint / cdc_start_time).
        if s.native_start:
            self.add("NoCheckpoint", {
                "Type": "Pass", "ResultPath": "$.window", "Next": "StartAtNativeStartPoint",
                "Comment": "The first run starts at the task's native start point: PostgreSQL has no custom CDC "
                           "start time",
                "Parameters": {"start": "", "attrs": {}}})
            self.add(after_start, {"Type": "Choice", "Default": empty, "Choices": [
                {"Variable": "$.run.window_end", "StringGreaterThanPath": "$.window.start",
                 "Next": "StartFromCheckpoint"}]})
            self._start_from_checkpoint()
            self.sdk("StartAtNativeStartPoint", DMS + "startReplicationTask",
                     {"ReplicationTaskArn": "${TaskArn}", "StartReplicationTaskType": "start-replication",
                      "CdcStopPosition.$": "$.run.stop_position"}, "WaitForTask")
        elif s.migration_type == "cdc":
            first = s.cdc_start_time or ""
            self.add("NoCheckpoint", {
                "Type": "Pass", "ResultPath": "$.window", "Next": after_start,
                "Comment": "The first run starts at cdc_start_time",
                "Parameters": {"start": first, "attrs": {"window_start": {"S": first}}}})
            self.add(after_start, {"Type": "Choice", "Default": empty, "Choices": [
                {"Variable": "$.run.window_end", "StringGreaterThanPath": "$.window.start", "Next": "FromWhere?"}]})
            self.add("FromWhere?", {"Type": "Choice", "Default": "StartAtCdcStartTime", "Choices": [
                {"Variable": "$.checkpoint.Item", "IsPresent": True, "Next": "StartFromCheckpoint"}]})
            self._start_from_checkpoint()
            self.sdk("StartAtCdcStartTime", DMS + "startReplicationTask",
                     {"ReplicationTaskArn": "${TaskArn}", "StartReplicationTaskType": "start-replication",
                      "CdcStartTime": first, "CdcStopPosition.$": "$.run.stop_position"}, "WaitForTask")
        else:  # full-load-and-cdc: the first run full-loads, later runs resume from where the task stopped
            self.add("NoCheckpoint", {
                "Type": "Pass", "ResultPath": "$.window", "Next": "FirstRun?",
                "Comment": "No checkpoint yet: the window starts with the full load",
                "Parameters": {"start": "", "attrs": {}}})
            self.add(after_start, {"Type": "Choice", "Default": empty, "Choices": [
                {"Variable": "$.run.window_end", "StringGreaterThanPath": "$.window.start", "Next": "FirstRun?"}]})
            self.add("FirstRun?", {"Type": "Choice", "Default": "StartWithFullLoad", "Choices": [
                {"Variable": "$.task.Task.ReplicationTaskStartDate", "IsPresent": True, "Next": "ResumeProcessing"}]})
            for name, start_type in (("StartWithFullLoad", "start-replication"),
                                     ("ResumeProcessing", "resume-processing")):
                self.sdk(name, DMS + "startReplicationTask",
                         {"ReplicationTaskArn": "${TaskArn}", "StartReplicationTaskType": start_type,
                          "CdcStopPosition.$": "$.run.stop_position"}, "WaitForTask")
        # Step 3: until stopped at the window's end (STOPPED_AT_SERVER_TIME) or failed.
        self.wait_for_task("STOPPED_AT_SERVER_TIME", "HasRecoveryCheckpoint?", "reaching the end of its window")
        no_checkpoint = self.failure("NoRecoveryCheckpoint", _format(
            f"replication task {tid} stopped at {{}} but reported no RecoveryCheckpoint: the checkpoint was not "
            "moved, the next run covers this window again", "$.run.window_end"))
        self.add("HasRecoveryCheckpoint?", {"Type": "Choice", "Default": no_checkpoint, "Choices": [
            {"Variable": "$.task.Task.RecoveryCheckpoint", "IsPresent": True, "Next": "GetTableStatistics"}]})
        # Step 4: every page of table statistics, one metrics item per table.
        self.sdk("GetTableStatistics", DMS + "describeTableStatistics",
                 {"ReplicationTaskArn": "${TaskArn}", "MaxRecords": STATS_PAGE}, "WriteTableMetrics",
                 result_path="$.stats", retry=True)
        self.sdk("GetMoreTableStatistics", DMS + "describeTableStatistics",
                 {"ReplicationTaskArn": "${TaskArn}", "MaxRecords": STATS_PAGE, "Marker.$": "$.stats.Marker"},
                 "WriteTableMetrics", result_path="$.stats", retry=True)
        metrics_item = {
            "pk": {"S": metrics_pk},
            "sk": {"S.$": _format("{}#{}.{}", "$.run.window_end", "$.table.SchemaName", "$.table.TableName")},
            "inserts": {"N.$": _format("{}", "$.table.Inserts")},
            "updates": {"N.$": _format("{}", "$.table.Updates")},
            "deletes": {"N.$": _format("{}", "$.table.Deletes")},
            "full_load_rows": {"N.$": _format("{}", "$.table.FullLoadRows")},
            "window_end": {"S.$": "$.run.window_end"},
            "run": {"S.$": "$.run.run"},
        }
        self.add("WriteTableMetrics", {
            "Type": "Map", "ItemsPath": "$.stats.TableStatistics", "MaxConcurrency": MAP_CONCURRENCY,
            "ItemSelector": {"table.$": "$$.Map.Item.Value", "run.$": "$.run", "window.$": "$.window"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "MetricsItem",
                "States": {
                    "MetricsItem": {"Type": "Pass", "Next": "PutTableMetrics",
                                    "Parameters": {"item": metrics_item, "attrs.$": "$.window.attrs"}},
                    "PutTableMetrics": {"Type": "Task", "Resource": PUT_ITEM, "End": True, "ResultPath": None,
                                        "Parameters": {"TableName": "${StateTable}",
                                                       "Item.$": "States.JsonMerge($.item, $.attrs, false)"}}}},
            "ResultPath": None, "Next": "MoreTableStatistics?", "Catch": self.catch()})
        self.add("MoreTableStatistics?", {"Type": "Choice", "Default": "CheckpointItems", "Choices": [
            {"Variable": "$.stats.Marker", "IsPresent": True, "Next": "GetMoreTableStatistics"}]})
        # Step 5: the task's RecoveryCheckpoint, as history and as latest (only a successful run gets here).
        checkpoint_item = {"pk": {"S": checkpoint_pk}, "checkpoint": {"S.$": "$.task.Task.RecoveryCheckpoint"},
                           "window_end": {"S.$": "$.run.window_end"}, "run": {"S.$": "$.run.run"},
                           "updated_at": {"S.$": "$$.State.EnteredTime"}}
        self.add("CheckpointItems", {
            "Type": "Pass", "ResultPath": "$.items", "Next": "PutCheckpointHistory",
            "Parameters": {"history": {**checkpoint_item, "sk": {"S.$": _format("run#{}", "$.run.window_end")}},
                           "latest": {**checkpoint_item, "sk": {"S": "latest"}}, "attrs.$": "$.window.attrs"}})
        self.sdk("PutCheckpointHistory", PUT_ITEM,
                 {"TableName": "${StateTable}", "Item.$": "States.JsonMerge($.items.history, $.items.attrs, false)"},
                 "FirstCheckpoint?")
        # `latest` only over the checkpoint this run started from (as `dmsctl run`): a concurrent run fails here.
        self.add("FirstCheckpoint?", {"Type": "Choice", "Default": "PutFirstCheckpoint", "Choices": [
            {"Variable": "$.checkpoint.Item", "IsPresent": True, "Next": "PutLatestCheckpoint"}]})
        latest = {"TableName": "${StateTable}", "Item.$": "States.JsonMerge($.items.latest, $.items.attrs, false)"}
        self.sdk("PutFirstCheckpoint", PUT_ITEM, {**latest, "ConditionExpression": "attribute_not_exists(pk)"},
                 "Succeeded")
        self.sdk("PutLatestCheckpoint", PUT_ITEM,
                 {**latest, "ConditionExpression": "checkpoint = :before",
                  "ExpressionAttributeValues": {":before": {"S.$": "$.checkpoint.Item.checkpoint.S"}}}, "Succeeded")
        self.add("Succeeded", {"Type": "Succeed"})
        return self.finish(f"dmsctl incremental run of {tid} ({s.migration_type}): one window of changes up to "
                           "the run's time (docs/WORKFLOWS.md)", "ParseStartTime")
