"""Step Functions' payload quota in the sandbox's executions (sandbox/sfn_limits.py).

Sources: Step Functions Developer Guide, "Step Functions service quotas" (262,144 bytes: the maximum
input or output size for a task, state or execution, as a UTF-8 encoded string) and "Error handling"
(States.DataLimitExceeded: a connector's output, a state's output, or a state's input after Parameters
larger than the quota; a terminal error States.ALL does not catch; States.Runtime: not retriable, it always
fails the execution, and a Retry or Catch on States.ALL does not catch it).
"""

from __future__ import annotations

import json
import time

from dmsctl.sandbox import sfn_limits

ROLE_ARN = "arn:aws:iam::123456789012:role/dmsctl-run"
LIST = "arn:aws:states:::aws-sdk:s3:listObjectsV2"
PUT = "arn:aws:states:::aws-sdk:s3:putObject"
BUCKET = "lake"


def _run(sb, definition: dict, payload: dict | None = None, name: str = "limits") -> dict:
    sfn = sb.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                       roleArn=ROLE_ARN)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload or {}))["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    return run


def _big_bucket(sb) -> None:
    """A bucket whose one-page listing is ~400 KB of JSON: 1000 keys of ~250 characters."""
    sb.put_s3_object(BUCKET, "seed")
    s3 = sb.client("s3")
    for i in range(1000):
        s3.put_object(Bucket=BUCKET, Key=f"raw/{'k' * 240}/{i:04d}", Body=b"x")


def _listing(catch: list[str]) -> dict:
    return {"StartAt": "List", "States": {
        "List": {"Type": "Task", "Resource": LIST, "Parameters": {"Bucket": BUCKET},
                 "ResultSelector": {"KeyCount.$": "$.KeyCount"}, "End": True,
                 "Catch": [{"ErrorEquals": catch, "ResultPath": "$.failure", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}


def test_the_quota_is_262144_bytes_of_utf8():
    assert sfn_limits.within_quota("x" * 262_144) and not sfn_limits.within_quota("x" * 262_145)
    assert not sfn_limits.within_quota("é" * 131_073)  # two bytes each in UTF-8


def test_a_connector_result_over_the_quota_fails_even_before_its_result_selector(sandbox):
    """The raw listing is ~400 KB; the ResultSelector would keep a few bytes: the task still fails, and the
    Catch on States.ALL does not catch the terminal error."""
    _big_bucket(sandbox)
    run = _run(sandbox, _listing(["States.ALL"]))
    assert run["status"] == "FAILED"
    assert run["error"] == "States.DataLimitExceeded"


def test_naming_data_limit_exceeded_in_a_catch_catches_it(sandbox):
    _big_bucket(sandbox)
    run = _run(sandbox, _listing(["States.DataLimitExceeded"]))
    assert run["status"] == "SUCCEEDED"
    assert json.loads(run["output"])["failure"]["Error"] == "States.DataLimitExceeded"


def test_a_task_input_over_the_quota_after_parameters_fails_before_the_call(sandbox):
    sandbox.put_s3_object(BUCKET, "seed")
    definition = {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": PUT, "End": True, "ResultPath": None,
        "Parameters": {"Bucket": BUCKET, "Key": "big", "Body.$": "States.Format('{}{}', $.half, $.half)"}}}}
    run = _run(sandbox, definition, {"half": "x" * 150_000})  # the input fits, Parameters double it
    assert run["status"] == "FAILED" and run["error"] == "States.DataLimitExceeded"
    assert "big" not in sandbox.s3_keys(BUCKET, "")


def test_a_task_input_under_the_quota_is_called(sandbox):
    sandbox.put_s3_object(BUCKET, "seed")
    definition = {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": PUT, "End": True, "ResultPath": None,
        "Parameters": {"Bucket": BUCKET, "Key": "fits", "Body.$": "States.Format('{}{}', $.half, $.half)"}}}}
    run = _run(sandbox, definition, {"half": "x" * 100_000})
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert "fits" in sandbox.s3_keys(BUCKET, "")


def _missing_path(errors: list[str]) -> dict:
    """A Parameters JSONPath absent from the input: States.Runtime."""
    return {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": PUT, "End": True, "ResultPath": None,
                "Parameters": {"Bucket": BUCKET, "Key": "k", "Body.$": "$.absent"},
                "Retry": [{"ErrorEquals": errors, "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": errors, "ResultPath": "$.failure", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}


def test_a_runtime_error_is_caught_by_nothing(sandbox):
    sandbox.put_s3_object(BUCKET, "seed")
    for errors in (["States.ALL"], ["States.Runtime"], ["States.TaskFailed"]):
        run = _run(sandbox, _missing_path(errors), name=f"runtime-{errors[0].replace('.', '-')}")
        assert run["status"] == "FAILED", errors
        assert run["error"] == "States.Runtime" and "$.absent" in run["cause"]


def test_other_errors_are_still_caught_by_states_all(sandbox):
    """Only the terminal errors are exempt: a task failure (a bucket that does not exist) is caught."""
    definition = _missing_path(["States.ALL"])
    definition["States"]["Put"]["Parameters"] = {"Bucket": "no-such-bucket", "Key": "k", "Body": "x"}
    del definition["States"]["Put"]["Retry"]
    run = _run(sandbox, definition)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert "NoSuchBucket" in json.loads(run["output"])["failure"]["Error"]
