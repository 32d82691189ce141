"""Run a state machine definition in moto's ASL interpreter, its service calls answered by a script.

Only the compiler's own tests use this: it checks that the definitions of compiler/workflows.py do
what docs/WORKFLOWS.md says, call by call, without any AWS behind them (the sandbox runs them
against its simulated DMS). Three things differ in moto 5.2.1 from Step Functions and are set right
here, for the duration of one test (monkeypatch):

- `$$.Execution.StartTime` is a datetime in moto's context object; Step Functions gives an ISO-8601
  string (2026-11-01T02:00:03.125Z). The test chooses it.
- A definite reference path through an index ($.Connections[0].Status) yields a list in moto; Step
  Functions yields the value.
- Wait states return at once (the seconds they were asked to wait are recorded).
"""

from __future__ import annotations

import copy
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

INDEFINITE_PATH = re.compile(r"\*|\.\.|\?\(|\[[^\]]*[:,][^\]]*\]")
ROLE_ARN = "arn:aws:iam::123456789012:role/dmsctl-food-workflows"


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "r-1"}}, operation)


@dataclass
class FakeAws:
    """Answers `<service>:<action>` calls (e.g. "databasemigration:describeReplicationTasks") from a script:
    a list of responses per action, used in order; the last one repeats. An exception is raised."""

    script: dict[str, list[Any]]
    calls: list[tuple[str, dict]] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)

    def answer(self, action: str, params: dict) -> Any:
        self.calls.append((action, copy.deepcopy(params)))
        if action not in self.script:
            raise AssertionError(f"unexpected call {action} {params}")
        queue = self.script[action]
        response = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(response, Exception):
            raise response
        return copy.deepcopy(response)

    def params(self, action: str) -> list[dict]:
        return [p for a, p in self.calls if a == action]

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]


def substitute(definition: str, values: dict[str, str]) -> str:
    """What CloudFormation's DefinitionSubstitutions does."""
    for key, value in values.items():
        definition = definition.replace("${" + key + "}", value)
    assert "${" not in definition, definition
    return definition


def run(definition: str, fake: FakeAws, start_time: str, monkeypatch, name: str = "run-1") -> dict:
    """Execute `definition` (JSON text) once; returns DescribeExecution's answer."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (
        StateTaskServiceDynamoDB,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns import (
        StateTaskServiceSns,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def service_call(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        env.stack.append(fake.answer(f"{self.resource.api_name}:{self.resource.api_action}", normalised_parameters))

    for cls in (StateTaskServiceAwsSdk, StateTaskServiceDynamoDB, StateTaskServiceSns):
        monkeypatch.setattr(cls, "_eval_service_task", service_call)
    monkeypatch.setattr(WaitFunction, "_wait_interval", lambda self, env, wait_seconds: fake.waits.append(wait_seconds))

    original_environment = ExecutionWorker._get_evaluation_environment

    def environment(self):
        env = original_environment(self)
        env.states.context_object.context_object_data["Execution"]["StartTime"] = start_time
        return env

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_environment", environment)

    from jsonpath_ng.ext import parse

    original_extract = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        if not INDEFINITE_PATH.search(path):
            matches = parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return original_extract(path, data)

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("moto.stepfunctions.parser") and getattr(module, "extract_json", None) is \
                original_extract:
            monkeypatch.setattr(module, "extract_json", extract_json)

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        arn = sfn.create_state_machine(name="machine", definition=definition, roleArn=ROLE_ARN)["stateMachineArn"]
        scheduled_event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": start_time}
        execution = sfn.start_execution(stateMachineArn=arn, name=name,
                                        input=json.dumps(scheduled_event))["executionArn"]
        deadline = time.monotonic() + 60
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.01)
        return described
