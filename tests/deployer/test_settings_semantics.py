"""settings_subset compares task settings by meaning: DMS's enrichment (A9, A40) is not a difference."""

from __future__ import annotations

import json

from dmsctl.deployer.mappings_semantics import settings_subset
from dmsctl.sandbox.dms.settings import normalize

WANTED = {"Logging": {"EnableLogging": True, "LogComponents": [
    {"Id": "TARGET_APPLY", "Severity": "LOGGER_SEVERITY_DEFAULT"},
    {"Id": "TASK_MANAGER", "Severity": "LOGGER_SEVERITY_DEBUG"}]},
    "ChangeProcessingTuning": {"BatchApplyTimeoutMax": 30}}


def _live(extra: dict | None = None) -> str:
    stored = normalize(json.dumps(WANTED))
    return normalize(json.dumps(extra), stored) if extra else stored


def test_enrichment_is_no_difference():
    assert settings_subset(WANTED, _live()) == []
    assert settings_subset(WANTED, _live({"Logging": {"LogComponents": [
        {"Id": "SORTER", "Severity": "LOGGER_SEVERITY_DEBUG"}]}})) == []


def test_a_changed_key_the_config_sets_is_a_difference():
    changed = _live({"Logging": {"LogComponents": [{"Id": "TARGET_APPLY", "Severity": "LOGGER_SEVERITY_ERROR"}]},
                     "ChangeProcessingTuning": {"BatchApplyTimeoutMax": 300}})
    assert settings_subset(WANTED, changed) == ["Logging.LogComponents.TARGET_APPLY",
                                                "ChangeProcessingTuning.BatchApplyTimeoutMax"]


def test_a_component_missing_from_one_side_is_at_the_default_severity():
    live = {"Logging": {"LogComponents": [{"Id": "TASK_MANAGER", "Severity": "LOGGER_SEVERITY_DEBUG"}]}}
    wanted = {"Logging": {"LogComponents": WANTED["Logging"]["LogComponents"]}}
    assert settings_subset(wanted, live) == []  # TARGET_APPLY absent: default, as wanted
    assert settings_subset(live, WANTED) == []
    debug = {"Logging": {"LogComponents": [{"Id": "IO", "Severity": "LOGGER_SEVERITY_DEBUG"}]}}
    assert settings_subset(debug, WANTED) == ["Logging.LogComponents.IO"]


def test_texts_compared_once_give_what_the_documents_give():
    changed = _live({"ChangeProcessingTuning": {"BatchApplyTimeoutMax": 300}})
    as_text = settings_subset(json.dumps(WANTED), changed)
    assert as_text == settings_subset(WANTED, json.loads(changed)) == ["ChangeProcessingTuning.BatchApplyTimeoutMax"]
    as_text.append("mutated by a caller")  # the memo hands out copies
    assert settings_subset(json.dumps(WANTED), changed) == ["ChangeProcessingTuning.BatchApplyTimeoutMax"]
