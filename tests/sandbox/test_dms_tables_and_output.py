"""Rules 4, 7, 10: table statistics, S3 output layout, event subscriptions.

Sources: DMS API DescribeTableStatistics (MaxRecords 20-500, Marker, Filters schema-name/table-name/
table-state, TableStatistics shape), DMS user guide "Using Amazon S3 as a target" (output path
<BucketFolder>/<schema>/<table>/LOAD00000001.csv, CDC files <timestamp>.csv, DataFormat parquet),
"Transformation rules" (rename schema/table), Create/Describe/Modify/DeleteEventSubscription,
AWS::DMS::EventSubscription. Assumptions: A2-A4, A14 in docs/ASSUMPTIONS.md.
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t


def test_tables_go_before_load_full_load_completed(sandbox, deployed):
    sandbox.set_table_size("team-a-app", "app", "orders", 5000)  # 100 s at 50 rows/s
    assert {s["TableState"] for s in h.table_stats(sandbox, "team-a-app").values()} == {"Before load"}
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(30)
    stats = h.table_stats(sandbox, "team-a-app")
    assert stats["app.users"]["TableState"] == "Table completed"
    assert stats["app.users"]["FullLoadRows"] == 1000
    assert stats["app.users"]["FullLoadEndTime"] > stats["app.users"]["FullLoadStartTime"]
    assert stats["app.orders"]["TableState"] == "Full load"
    assert 0 < stats["app.orders"]["FullLoadRows"] < 5000
    assert stats["app.orders"]["FullLoadCondtnlChkFailedRows"] == 0
    only_loading = h.table_stats(sandbox, "team-a-app", Filters=[{"Name": "table-state", "Values": ["Full load"]}])
    assert list(only_loading) == ["app.orders"]
    sandbox.clock.advance(100)
    assert h.table_stats(sandbox, "team-a-app")["app.orders"]["TableState"] == "Table completed"


def test_table_statistics_pagination_and_filters(sandbox, deployed):
    for i in range(30):
        sandbox.set_table_size("team-a-app", "bulk", f"t{i:02d}", 10)
    rules = {"rules": [t.selection("bulk", "%", 1), t.selection("app", "users", 2)]}
    new = t.with_task_prop(deployed, "Task0", TableMappings=json.dumps(rules))
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    dms = sandbox.client("dms")
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    page = dms.describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=20)
    rest = dms.describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=20, Marker=page["Marker"])
    assert len(page["TableStatistics"]) + len(rest["TableStatistics"]) == 31
    with pytest.raises(botocore.exceptions.ClientError):
        dms.describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=501)
    by_schema = h.table_stats(sandbox, "team-a-app", Filters=[{"Name": "schema-name", "Values": ["app"]}])
    assert list(by_schema) == ["app.users"]
    by_table = h.table_stats(sandbox, "team-a-app", Filters=[{"Name": "table-name", "Values": ["t07"]}])
    assert list(by_table) == ["bulk.t07"]


def test_load_and_cdc_files_land_under_renamed_path(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(60)
    assert sandbox.s3_keys(t.BUCKET, "raw/data/users_v1/") == ["raw/data/users_v1/LOAD00000001.csv"]
    sandbox.clock.advance(700)
    keys = sandbox.s3_keys(t.BUCKET, "raw/data/users_v1/")
    cdc = [k for k in keys if not k.endswith("LOAD00000001.csv")]
    assert len(cdc) == 1 and cdc[0].endswith(".csv")
    assert sandbox.overwrites == []


def test_rename_with_slash_becomes_path_segments_and_parquet(sandbox):
    """A3: a '/' inside a rename value is a path separator."""
    base = t.base_template()
    base["Resources"]["LakeEndpoint"]["Properties"]["S3Settings"]["DataFormat"] = "parquet"
    h.create_stack(sandbox, "dmsctl-base", t.body(base))
    rules = {"rules": [t.selection("app", "users", 1), t.rename("schema", "app", "team-a/app", 2),
                       t.rename("table", "app", "users/v3", 3, "users")]}
    h.create_stack(sandbox, "dmsctl-team-a", t.body(t.team_template({"team-a-app": json.dumps(rules)})))
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(60)
    assert sandbox.s3_keys(t.BUCKET) == ["raw/team-a/app/users/v3/LOAD00000001.parquet"]


def test_reload_into_existing_path_is_recorded_as_overwrite(sandbox, deployed):
    """A4: the sandbox never overwrites; the attempt is recorded for tests to fail on."""
    sandbox.put_s3_object(t.BUCKET, "raw/data/users_v1/LOAD00000001.csv", b"old data")
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.clock.advance(60)
    assert [(o.bucket, o.key) for o in sandbox.overwrites] == [(t.BUCKET, "raw/data/users_v1/LOAD00000001.csv")]
    body = sandbox.client("s3").get_object(Bucket=t.BUCKET, Key="raw/data/users_v1/LOAD00000001.csv")["Body"]
    assert body.read() == b"old data"


def test_event_subscriptions_api(sandbox, deployed):
    dms = sandbox.client("dms")
    topic = h.outputs(sandbox, "dmsctl-base")["AlertsTopic"]
    dms.create_event_subscription(SubscriptionName="ops", SnsTopicArn=topic, SourceType="replication-task",
                                  EventCategories=["failure"], Enabled=True)
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceAlreadyExistsFault"):
        dms.create_event_subscription(SubscriptionName="ops", SnsTopicArn=topic)
    dms.modify_event_subscription(SubscriptionName="ops", EventCategories=["failure", "state change"], Enabled=False)
    sub = dms.describe_event_subscriptions(SubscriptionName="ops")["EventSubscriptionsList"][0]
    assert sub["EventCategoriesList"] == ["failure", "state change"] and sub["Enabled"] is False
    dms.delete_event_subscription(SubscriptionName="ops")
    names = [s["CustSubscriptionId"] for s in dms.describe_event_subscriptions()["EventSubscriptionsList"]]
    assert names == ["team-a-events"]


def test_event_subscription_via_cloudformation_update(sandbox, deployed):
    new = t.with_task_prop(deployed, "Events", EventCategories=["failure"])
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    sub = sandbox.client("dms").describe_event_subscriptions(SubscriptionName="team-a-events")
    assert sub["EventSubscriptionsList"][0]["EventCategoriesList"] == ["failure"]
