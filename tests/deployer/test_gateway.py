"""The gateway: read-only enforcement, error translation, call counting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from dmsctl.deployer.errors import AwsError, ReadOnlyViolation
from dmsctl.deployer.gateway import Gateway, is_read

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.mark.parametrize("op,read", [("DescribeReplicationTasks", True), ("ListObjectsV2", True),
                                     ("GetTemplate", True), ("HeadObject", True), ("StopReplicationTask", False),
                                     ("CreateChangeSet", False), ("TestConnection", False),
                                     ("ValidateTemplate", False), ("ModifyReplicationTask", False)])
def test_is_read(op, read):
    assert is_read(op) is read


def test_read_only_gateway_refuses_mutations_before_sending(aws):
    gw = Gateway("eu-west-1", read_only=True)
    with pytest.raises(ReadOnlyViolation, match="cloudformation:CreateStack"):
        gw.call("cloudformation", "create_stack", StackName="x", TemplateBody="{}")
    with pytest.raises(ReadOnlyViolation, match="dms:StopReplicationTask"):
        gw.call("dms", "stop_replication_task", ReplicationTaskArn="arn:x")
    assert gw.calls == {}  # nothing was sent, nothing counted
    writer = Gateway("eu-west-1", read_only=False)
    assert writer.paginate("cloudformation", "describe_stacks", "Stacks") == []


def test_read_only_is_enforced_even_on_the_client_itself(aws):
    gw = Gateway("eu-west-1", read_only=True)
    client = gw._client("s3")  # code that reaches past `call` still cannot send a write
    with pytest.raises(ReadOnlyViolation):
        client.create_bucket(Bucket="nope", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    writer = Gateway("eu-west-1", read_only=False)
    assert writer.call("s3", "list_buckets")["Buckets"] == []


def test_errors_name_the_operation_and_resource(aws):
    gw = Gateway("eu-west-1", read_only=True)
    with pytest.raises(AwsError) as exc:
        gw.call("cloudformation", "get_template", resource="stack dmsctl-base", StackName="dmsctl-base")
    assert "cloudformation:GetTemplate failed for stack dmsctl-base" in str(exc.value)


def test_throttling_that_outlasts_retries_is_explained(aws):
    gw = Gateway("eu-west-1", read_only=True, max_attempts=1)
    client = gw._client("dms")
    with Stubber(client) as stub:
        stub.add_client_error("describe_replication_tasks", service_error_code="ThrottlingException",
                              service_message="Rate exceeded", http_status_code=400)
        with pytest.raises(AwsError, match="kept throttling dms:DescribeReplicationTasks.*retry later"):
            gw.call("dms", "describe_replication_tasks")


def test_calls_are_counted_by_operation_and_page(aws):
    gw = Gateway("eu-west-1", read_only=True)
    gw.call("sts", "get_caller_identity")
    gw.paginate("cloudformation", "describe_stacks", "Stacks")
    assert dict(gw.calls) == {"sts:GetCallerIdentity": 1, "cloudformation:DescribeStacks": 1}


def test_poll_times_out_with_a_message_and_honours_the_callers_timeout():
    clock = {"t": 0.0}
    gw = Gateway("eu-west-1", read_only=True, sleep=lambda s: clock.__setitem__("t", clock["t"] + s),
                 monotonic=lambda: clock["t"])
    with pytest.raises(AwsError, match="timed out after 1800 s waiting for task x to stop"):
        gw.poll(lambda: "stopping", lambda s: s == "stopped", what="task x to stop", timeout=1800)
    assert clock["t"] >= 1800


def test_only_the_gateway_imports_boto3():
    offenders = []
    for path in list((REPO / "deployer").rglob("*.py")) + list((REPO / "compiler").rglob("*.py")):
        if "sandbox" in path.parts or path.name == "gateway.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("boto3", "botocore") for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_response_timestamps_are_utc_datetimes_of_the_same_instant():
    from datetime import UTC, datetime

    import botocore.utils

    from dmsctl.deployer.gateway import utc_timestamp

    epoch = 1764547200.25  # the JSON protocols (DMS) send epoch seconds
    assert utc_timestamp(epoch) == datetime(2025, 12, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert utc_timestamp(epoch).tzinfo is UTC
    for text in ("2025-12-01T00:00:00.250Z", "2025-12-01T01:00:00.250+01:00",  # CloudFormation: ISO 8601
                 "Mon, 01 Dec 2025 00:00:00 GMT"):  # RFC 822: botocore's own parser
        parsed = utc_timestamp(text)
        assert parsed == botocore.utils.parse_timestamp(text), text
        assert parsed.utcoffset().total_seconds() == 0, text


def test_clients_parse_timestamps_with_the_utc_parser(aws):
    """What a DMS/CloudFormation response carries arrives through utc_timestamp (UTC), not botocore's
    local-zone default."""
    gw = Gateway("eu-west-1", read_only=False)
    gw.call("cloudformation", "create_stack", StackName="s", TemplateBody=json_template())
    [stack] = gw.call("cloudformation", "describe_stacks", StackName="s")["Stacks"]
    assert stack["CreationTime"].utcoffset().total_seconds() == 0
    assert stack["CreationTime"].tzname() == "UTC"


def json_template() -> str:
    import json

    return json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
