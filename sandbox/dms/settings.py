"""ReplicationTaskSettings as DMS stores them: user keys merged over server-side defaults.

DMS returns the full settings document (defaults included, its own key order) whatever
subset was sent; a planner comparing desired vs deployed settings must tolerate that.
Defaults follow the DMS user guide "Task settings example" / "Saving task settings".
Enrichment (docs/ASSUMPTIONS.md A9, A40): every Logging.LogComponents entry of DMS's list, in
DMS's order (a component not given at LOGGER_SEVERITY_DEFAULT), the duplicated
ControlTablesSettings.historyTimeslotInMinutes, and server-side keys nobody sent.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import InvalidParameterValueException

# DMS's log components, in the order DMS returns them (DescribeReplicationTasks).
LOG_COMPONENTS = (
    "TRANSFORMATION", "SOURCE_UNLOAD", "IO", "TARGET_LOAD", "PERFORMANCE", "SOURCE_CAPTURE", "SORTER",
    "REST_SERVER", "VALIDATOR_EXT", "TARGET_APPLY", "TASK_MANAGER", "TABLES_MANAGER", "METADATA_MANAGER",
    "FILE_FACTORY", "COMMON", "ADDONS", "DATA_STRUCTURE", "COMMUNICATION", "FILE_TRANSFER",
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "Logging": {
        "EnableLogging": False,
        "EnableLogContext": False,
        "LogComponents": [{"Id": c, "Severity": "LOGGER_SEVERITY_DEFAULT"} for c in LOG_COMPONENTS],
        "CloudWatchLogGroup": None,
        "CloudWatchLogStream": None,
    },
    "StreamBufferSettings": {"StreamBufferCount": 3, "CtrlStreamBufferSizeInMB": 5, "StreamBufferSizeInMB": 8},
    "ErrorBehavior": {
        "FailOnNoTablesCaptured": True,
        "ApplyErrorUpdatePolicy": "LOG_ERROR",
        "FailOnTransactionConsistencyBreached": False,
        "RecoverableErrorThrottlingMax": 1800,
        "DataErrorEscalationPolicy": "SUSPEND_TABLE",
        "ApplyErrorEscalationCount": 0,
        "RecoverableErrorStopRetryAfterThrottlingMax": True,
        "RecoverableErrorThrottling": True,
        "ApplyErrorFailOnTruncationDdl": False,
        "DataTruncationErrorPolicy": "LOG_ERROR",
        "ApplyErrorInsertPolicy": "LOG_ERROR",
        "EventErrorPolicy": "IGNORE",
        "ApplyErrorEscalationPolicy": "LOG_ERROR",
        "RecoverableErrorCount": -1,
        "DataErrorEscalationCount": 0,
        "TableErrorEscalationPolicy": "STOP_TASK",
        "RecoverableErrorInterval": 5,
        "ApplyErrorDeletePolicy": "IGNORE_RECORD",
        "TableErrorEscalationCount": 0,
        "FullLoadIgnoreConflicts": True,
        "DataErrorPolicy": "LOG_ERROR",
        "TableErrorPolicy": "SUSPEND_TABLE",
    },
    "TTSettings": None,
    "FullLoadSettings": {
        "CommitRate": 10000,
        "StopTaskCachedChangesApplied": False,
        "StopTaskCachedChangesNotApplied": False,
        "MaxFullLoadSubTasks": 8,
        "TransactionConsistencyTimeout": 600,
        "CreatePkAfterFullLoad": False,
        "TargetTablePrepMode": "DO_NOTHING",
    },
    "TargetMetadata": {
        "ParallelApplyBufferSize": 0,
        "ParallelApplyQueuesPerThread": 0,
        "ParallelApplyThreads": 0,
        "TargetSchema": "",
        "InlineLobMaxSize": 0,
        "ParallelLoadQueuesPerThread": 0,
        "SupportLobs": True,
        "LobChunkSize": 64,
        "TaskRecoveryTableEnabled": False,
        "ParallelLoadThreads": 0,
        "LobMaxSize": 32,
        "BatchApplyEnabled": False,
        "FullLobMode": False,
        "LimitedSizeLobMode": True,
        "LoadMaxFileSize": 0,
        "ParallelLoadBufferSize": 0,
    },
    "BeforeImageSettings": None,
    "ControlTablesSettings": {
        "historyTimeslotInMinutes": 5,
        "HistoryTimeslotInMinutes": 5,
        "StatusTableEnabled": False,
        "SuspendedTablesTableEnabled": False,
        "HistoryTableEnabled": False,
        "ControlSchema": "",
        "FullLoadExceptionTableEnabled": False,
    },
    "LoopbackPreventionSettings": None,
    "CharacterSetSettings": None,
    "FailTaskWhenCleanTaskResourceFailed": False,
    "ChangeProcessingTuning": {
        "StatementCacheSize": 50,
        "CommitTimeout": 1,
        "RecoveryTimeout": -1,
        "BatchApplyPreserveTransaction": True,
        "BatchApplyTimeoutMin": 1,
        "BatchSplitSize": 0,
        "BatchApplyTimeoutMax": 30,
        "MinTransactionSize": 1000,
        "MemoryKeepTime": 60,
        "BatchApplyMemoryLimit": 500,
        "MemoryLimitTotal": 1024,
    },
    "ChangeProcessingDdlHandlingPolicy": {
        "HandleSourceTableDropped": True,
        "HandleSourceTableTruncated": True,
        "HandleSourceTableAltered": True,
    },
    "PostProcessingRules": None,
}


def _merge(base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, path + (key,))
        elif path + (key,) == ("Logging", "LogComponents") and isinstance(value, list):
            out[key] = _merge_components(out.get(key) or [], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_components(stored: list[Any], given: list[Any]) -> list[Any]:
    """LogComponents merged by Id (A40): the stored list keeps DMS's order and every component; a given
    component sets its severity, one DMS does not know is kept after DMS's own."""
    out = [dict(c) for c in stored if isinstance(c, dict)]
    by_id = {c.get("Id"): c for c in out}
    for comp in given:
        if not isinstance(comp, dict) or "Id" not in comp:
            raise InvalidParameterValueException("Invalid task settings JSON: a LogComponents entry needs an Id")
        if comp["Id"] in by_id:
            by_id[comp["Id"]].update(copy.deepcopy(comp))
        else:
            entry = {"Id": comp["Id"], "Severity": "LOGGER_SEVERITY_DEFAULT", **copy.deepcopy(comp)}
            out.append(entry)
            by_id[comp["Id"]] = entry
    return [{"Severity": c.get("Severity", "LOGGER_SEVERITY_DEFAULT"), "Id": c["Id"],
             **{k: v for k, v in c.items() if k not in ("Id", "Severity")}} for c in out]


def _mirror(merged: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """DMS keeps ControlTablesSettings.historyTimeslotInMinutes equal to HistoryTimeslotInMinutes."""
    control = merged.get("ControlTablesSettings")
    sent = given.get("ControlTablesSettings")
    if isinstance(control, dict) and isinstance(sent, dict) and "HistoryTimeslotInMinutes" in sent:
        control["historyTimeslotInMinutes"] = sent["HistoryTimeslotInMinutes"]
    return merged


def normalize(settings: str | None, previous: str | None = None) -> str:
    """Settings as DMS holds them after a create (previous=None) or a modify."""
    given: dict[str, Any] = {}
    if settings:
        try:
            given = json.loads(settings)
        except json.JSONDecodeError as exc:
            raise InvalidParameterValueException(f"Invalid task settings JSON: {exc}") from exc
        if not isinstance(given, dict):
            raise InvalidParameterValueException("Task settings must be a JSON object")
    base = json.loads(previous) if previous else DEFAULT_SETTINGS
    return json.dumps(_mirror(_merge(base, given), given), separators=(",", ":"))


def max_full_load_subtasks(settings: str) -> int:
    value = json.loads(settings).get("FullLoadSettings", {}).get("MaxFullLoadSubTasks", 8)
    return max(1, min(int(value), 49))
