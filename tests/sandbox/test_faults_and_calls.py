"""Rules 11, 12 and the account: fault injection, call log, configurable account id.

Sources: botocore retry handler (HTTP 400 ThrottlingException/Throttling are retried),
DMS API ReplicationTask (Status failed, LastFailureMessage), STS GetCallerIdentity.
"""

from __future__ import annotations

import boto3
import botocore.config

from . import helpers as h


def test_throttled_calls_are_retried_by_botocore(sandbox, deployed):
    sandbox.faults.throttle("dms", "DescribeReplicationTasks", times=2)
    mark = sandbox.calls.mark()
    assert h.task(sandbox, "team-a-app")["Status"] == "ready"
    assert len(sandbox.calls.since(mark)) == 3  # two throttled + one answered


def test_throttling_surfaces_when_retries_are_exhausted(sandbox, deployed):
    sandbox.faults.throttle("cloudformation", "DescribeStacks", times=5)
    cfn = sandbox.boto_session().client(
        "cloudformation", config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))
    try:
        cfn.describe_stacks(StackName="dmsctl-base")
        raise AssertionError("expected throttling")
    except cfn.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "Throttling"


def test_slow_stop_and_task_failure(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.faults.slow_stop("team-a-app", 900)
    h.stop(sandbox, "team-a-app")
    sandbox.clock.advance(600)
    assert h.task(sandbox, "team-a-app")["Status"] == "stopping"
    sandbox.clock.advance(301)
    assert h.task(sandbox, "team-a-app")["Status"] == "stopped"
    h.start(sandbox, "team-a-app", "resume-processing")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.faults.fail_task("team-a-app", "Last Error ODBC general error. Task error notification received")
    failed = h.task(sandbox, "team-a-app")
    assert failed["Status"] == "failed"
    assert failed["LastFailureMessage"].startswith("Last Error ODBC")


def test_call_log_records_operations_and_key_params(sandbox, deployed):
    mark = sandbox.calls.mark()
    arn = h.task(sandbox, "team-a-app")["ReplicationTaskArn"]
    h.start(sandbox, "team-a-app")
    sandbox.s3_keys("datalake")
    calls = sandbox.calls.since(mark)
    starts = [c for c in calls if c.operation == "StartReplicationTask"]
    assert starts[0].service == "dms" and starts[0].params["ReplicationTaskArn"] == arn
    assert [c.operation for c in calls if c.mutating] == ["StartReplicationTask"]
    assert any(c.service == "s3" and c.params.get("Bucket") == "datalake" for c in calls)


def test_account_id_is_configurable(sandbox):
    sandbox.load_scenario({"account_id": "210987654321"})
    assert sandbox.client("sts").get_caller_identity()["Account"] == "210987654321"
    raw = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    assert raw.get_caller_identity()["Account"] == "210987654321"
