"""What DMS stores of a created task: settings enriched with server defaults, TableMappings with their rules."""

from __future__ import annotations

import json

import pytest

from . import dms as d

# Every component of the "Saving task settings" example (DMS User Guide): DMS lists them all in the settings
# it returns, with LOGGER_SEVERITY_DEFAULT for those not given.
LOG_COMPONENTS = ("TRANSFORMATION", "SOURCE_UNLOAD", "IO", "TARGET_LOAD", "PERFORMANCE", "SOURCE_CAPTURE", "SORTER",
                  "REST_SERVER", "VALIDATOR_EXT", "TARGET_APPLY", "TASK_MANAGER", "TABLES_MANAGER",
                  "METADATA_MANAGER", "FILE_FACTORY", "COMMON", "ADDONS", "DATA_STRUCTURE", "COMMUNICATION",
                  "FILE_TRANSFER")
GIVEN = {"Logging": {"EnableLogging": False, "LogComponents": [
    {"Id": "SOURCE_CAPTURE", "Severity": "LOGGER_SEVERITY_DEBUG"},
    {"Id": "TARGET_LOAD", "Severity": "LOGGER_SEVERITY_ERROR"}]},
    "FullLoadSettings": {"MaxFullLoadSubTasks": 4}}


def _settings(account, arn):
    return json.loads(d.describe_task(account, arn)["ReplicationTaskSettings"])


def _task(account, **kwargs):
    return d.create_task(account, "stored", "full-load-and-cdc",
                         d.mappings(account.source.schema, *account.source.tables,
                                    renames={account.source.tables[0]: "renamed_v1"}), **kwargs)


@pytest.mark.conformance("A9")
def test_stored_settings_fill_in_defaults_and_a_modify_merges(account):
    arn = _task(account, settings=GIVEN)
    stored = _settings(account, arn)
    assert stored["FullLoadSettings"]["MaxFullLoadSubTasks"] == 4
    for section, key in (("FullLoadSettings", "CommitRate"), ("ErrorBehavior", "FailOnNoTablesCaptured"),
                         ("StreamBufferSettings", "StreamBufferCount"), ("ChangeProcessingTuning", "CommitTimeout"),
                         ("TargetMetadata", "SupportLobs")):
        assert key in stored.get(section, {}), f"no server default for {section}.{key}: {sorted(stored)}"
    account.client("dms").modify_replication_task(
        ReplicationTaskArn=arn, ReplicationTaskSettings=json.dumps({"FullLoadSettings": {"CommitRate": 20000}}))
    d.wait_status(account, arn, "ready", "stopped")
    merged = _settings(account, arn)["FullLoadSettings"]
    assert (merged["CommitRate"], merged["MaxFullLoadSubTasks"]) == (20000, 4), merged


@pytest.mark.conformance("log-components-complete")
def test_stored_settings_list_every_log_component(account):
    arn = _task(account, settings=GIVEN)
    stored = {c["Id"]: c["Severity"] for c in _settings(account, arn)["Logging"]["LogComponents"]}
    assert (stored.get("SOURCE_CAPTURE"), stored.get("TARGET_LOAD")) == ("LOGGER_SEVERITY_DEBUG",
                                                                        "LOGGER_SEVERITY_ERROR"), stored
    missing = [c for c in LOG_COMPONENTS if c not in stored]
    assert not missing, f"LogComponents lacks {missing}"


def _rules(table_mappings: str) -> dict[str, dict[str, object]]:
    """Rules by name, as DMS may re-serialize them (A9): ids as strings, `filters: []` added."""
    rules = json.loads(table_mappings)["rules"]
    return {str(r["rule-name"]): {k: (str(v) if k == "rule-id" else v) for k, v in r.items()
                                  if not (k == "filters" and v == [])} for r in rules}


@pytest.mark.conformance("mappings-keep-rules")
def test_stored_table_mappings_keep_their_rules(account):
    given = d.mappings(account.source.schema, *account.source.tables,
                       renames={account.source.tables[0]: "renamed_v1"})
    arn = d.create_task(account, "mappings", "full-load-and-cdc", given)
    assert _rules(d.describe_task(account, arn)["TableMappings"]) == _rules(given)
