"""dmsctl never lets DMS delete S3 data: on an S3 target a source TRUNCATE removes the table's files and
folders unless ChangeProcessingDdlHandlingPolicy.HandleSourceTableTruncated is false (DMS User Guide,
"Using Amazon S3 as a target", limitations; "Task settings for change processing DDL handling")."""

from __future__ import annotations

import json

import pytest

from dmsctl.compiler.build import compile_tree
from tests.helpers import EXAMPLES, minimal_team, write_tree


def _task_settings(result) -> dict[str, dict]:
    found = {}
    for stack in result.tree.stacks:
        for res in stack.template["Resources"].values():
            if res["Type"] == "AWS::DMS::ReplicationTask":
                props = res["Properties"]
                found[props["ReplicationTaskIdentifier"]] = json.loads(props["ReplicationTaskSettings"])
    return found


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_compiled_task_asks_dms_not_to_delete_on_truncate(env):
    settings = _task_settings(compile_tree(EXAMPLES, env))
    assert len(settings) > 5
    for ident, s in settings.items():
        assert s["ChangeProcessingDdlHandlingPolicy"]["HandleSourceTableTruncated"] is False, ident
        assert s["FullLoadSettings"]["TargetTablePrepMode"] == "DO_NOTHING", ident


def test_an_override_that_lets_truncate_delete_s3_data_is_refused(tmp_path):
    team = minimal_team()
    team["tasks"]["cdc"]["settings"] = {"ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableTruncated": True}}
    result = compile_tree(write_tree(tmp_path, teams={"alpha": team}), "staging")
    found = [d for d in result.diagnostics if d.code == "E213"]
    assert len(found) == 1 and not result.ok
    assert "HandleSourceTableTruncated=true is not allowed" in found[0].message
    assert "delete or rewrite data already in S3" in found[0].message
