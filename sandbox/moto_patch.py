"""Everything the sandbox changes in moto, in one idempotent ``install()``.

Touched moto internals (each guarded by a canary in tests/sandbox/test_moto_canaries.py):
  1. ``moto.cloudformation.parsing.get_model_list/get_model_map/get_name_type_map``
     (lru-cached discovery of ``CloudFormationModel.__subclasses__()``) -> cache cleared after
     our AWS::DMS::* models are imported;
  2. ``moto.dms.responses.DatabaseMigrationServiceResponse``: one method per DMS operation
     (moto dispatches by snake_case name) -> replaced/added (``dms/api.py``);
  3. ``moto.core.responses.BaseResponse.call_action`` -> wrapped: call log, throttling faults,
     lazy simulation sync;
  4. ``moto.s3.responses.S3Response._bucket_response/_key_response`` -> wrapped: call log, sync;
  5. ``moto.cloudformation.models.CloudFormationBackend.create_stack/update_stack/delete_stack/
     execute_change_set/describe_stack_events``, ``Stack.status`` and the module's ``utcnow`` ->
     replaced (``cfn/stacks.py``); ``ChangeSet.diff`` and ``ChangeSet.status/execution_status/
     status_reason`` (properties: a change set is computed for ``cfn_change_set_seconds``) ->
     replaced (``cfn/change_sets.py``);
  6. ``moto.cloudformation.responses.CloudFormationResponse._validate_different_update``,
     ``_get_stack_from_s3_url`` and template-size checks on create/update/change-set calls;
  7. moto's Step Functions ASL backend is switched on (``MOTO_CONFIG``, read by
     ``moto.stepfunctions.responses.get_backend``) and the sandbox's CloudFormation models for
     AWS::StepFunctions::StateMachine / AWS::SNS::Subscription / AWS::SNS::TopicPolicy win over
     moto's (``cfn/aws_resources.py``);
  8. ``moto.stepfunctions.parser...WaitFunction._wait_interval`` -> Wait states wait on the sim
     clock (ASSUMPTIONS A30);
  9. the ASL parser's AWS SDK service names: ``aws-sdk:databasemigration:*`` (Step Functions' name for
     DMS, error prefix ``DatabaseMigration``) -> boto3's ``dms``;
 10. ``moto.stepfunctions.parser.models.StepFunctionsParserBackend._validate_definition`` -> also checks
     transitions (``sfn_checks.py``);
 11. the error classes of ``moto.stepfunctions.parser.api`` get ``TYPE = code`` (moto serialized their
     ``__type`` as null, so boto3 saw an empty error code);
 12. ``moto.stepfunctions.parser.asl.utils.json_path.extract_json`` (and every module's imported copy):
     a definite path through an array index (``$.ReplicationTasks[0].Status``) selects one value, as in
     Step Functions, where moto returned a one-element list;
 13. ``moto.sns.models.Subscription.publish``: http/https deliveries are recorded in ``World.deliveries``
     instead of POSTed (the sandbox is offline; A31);
 14. ``moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_environment``:
     the context object's ``$$.Execution.StartTime`` is the ISO-8601 text Step Functions gives
     (``2026-11-23T02:00:03.125Z``), taken from the sim clock, where moto passed a datetime;
 15. ``...state_task_service_aws_sdk.StateTaskServiceAwsSdk._eval_service_task``: timestamps in an AWS SDK
     integration's result become ISO-8601 text (state data is JSON in Step Functions; moto kept
     datetimes, which then broke DescribeExecution's output);
 16. ``ExecutionWorker.__deepcopy__`` -> the worker itself: moto deep-copies a state machine, with its
     executions, on every StartExecution, and a finished execution's worker holds locks, so a state
     machine could only ever be started once.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from . import world as world_mod
from .calls import Call, key_params

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

TEMPLATE_BODY_LIMIT = 51_200  # bytes, CloudFormation quotas
# moto configuration of every sandbox (mock_aws(config=...) in-process, default_user_config in the server):
# Step Functions validate definitions as Amazon States Language and can execute them.
MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
_install_lock = threading.Lock()
_installed = False
# moto's original callables we replaced, by dotted name (the canary tests compare signatures).
ORIGINALS: dict[str, Any] = {}
ORIGINAL_CALL_ACTION: Any = None


def _throttle_response(service_protocol: str) -> tuple[int, dict[str, str], str]:
    if service_protocol in ("json", "rest-json"):
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return 400, {"Content-Type": "application/x-amz-json-1.1", "status": "400"}, body
    body = (
        '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
        "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
        "<RequestId>sandbox-throttle</RequestId></ErrorResponse>"
    )
    return 400, {"Content-Type": "text/xml", "status": "400"}, body


def _request_params(response: Any) -> dict[str, Any]:
    params = getattr(response, "params", None)
    if isinstance(params, dict) and params:
        return params
    try:
        body = response.body
        if body:
            return json.loads(body)
    except (ValueError, TypeError):
        pass
    return {k: v[0] for k, v in (getattr(response, "querystring", {}) or {}).items() if v}


def _wrap_call_action(original):
    @functools.wraps(original)
    def call_action(self: Any):
        world = world_mod.current()
        action = self._get_action() or "?"
        service = self.service_name or "?"
        world.calls.record(Call(service, action, key_params(_request_params(self)), world.clock.now()))
        if world.faults.take_throttle(service, action):
            from moto.core.responses import get_service_model

            protocol = get_service_model(self.boto3_service_name).protocol
            return _throttle_response(protocol)
        world.sync()
        with world.lock:
            return original(self)

    call_action.sandbox_wrapped = True  # type: ignore[attr-defined]
    return call_action


def _wrap_s3(original, kind: str):
    @functools.wraps(original)
    def handler(self: Any, request: Any, full_url: str):
        world = world_mod.current()
        world.sync()
        with world.lock:
            result = original(self, request, full_url)
        params: dict[str, Any] = {}
        if self.data.get("BucketName"):
            params["Bucket"] = self.data["BucketName"]
        if kind == "key":
            try:
                params["Key"] = self.parse_key_name()
            except Exception:  # noqa: BLE001
                pass
        query = parse_qs(urlparse(full_url).query)
        if "prefix" in query:
            params["Prefix"] = query["prefix"][0]
        operation = self.data.get("Action") or f"{request.method}{kind.title()}"
        world.calls.record(Call("s3", operation, params, world.clock.now()))
        return result

    handler.sandbox_wrapped = True  # type: ignore[attr-defined]
    return handler


def _check_template_size(original):
    @functools.wraps(original)
    def method(self: Any):
        body = self._get_param("TemplateBody")
        if body and len(body.encode()) > TEMPLATE_BODY_LIMIT:
            from moto.cloudformation.exceptions import ValidationError

            raise ValidationError(
                message="1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
                f"Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}"
            )
        return original(self)

    return method


def _get_stack_from_s3_url(self: Any, template_url: str) -> str:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.utils import get_stack_from_s3_url

    try:
        return get_stack_from_s3_url(template_url, account_id=self.current_account, partition=self.partition)
    except Exception as exc:  # noqa: BLE001 - missing bucket/key
        raise ValidationError(
            message="S3 error: Access Denied. TemplateURL must reference a valid S3 object to which you have access."
        ) from exc


def _wrap_evaluation_environment(original):
    @functools.wraps(original)
    def method(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        now = world_mod.current().clock.now()
        execution["StartTime"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        return env

    return method


def _json_safe(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _wrap_sdk_task(original):
    @functools.wraps(original)
    def method(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, env, *args, **kwargs)
        if env.stack:
            env.stack[-1] = _json_safe(env.stack[-1])
        return result

    return method


_EXECUTION_WORLD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sim_wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
    """A Wait state waits on the sim clock: a manual clock jumps ahead, a scaled one waits the real
    equivalent (still interruptible by StopExecution). An execution outlives its account only in real time,
    so it can never move the clock of a later sandbox."""
    world = world_mod.current()
    # Kept beside the environment, not in it: moto deep-copies a state machine with its executions on
    # every StartExecution, and a World (locks) cannot be copied.
    started_in = _EXECUTION_WORLD.setdefault(env, world)
    if wait_seconds <= 0:
        return
    if started_in is not world:  # an execution left over from a reset account: real time, harmless
        env.program_state_event.wait(wait_seconds)
        return
    clock = world.clock
    if clock.manual:
        clock.advance(wait_seconds)
    else:
        env.program_state_event.wait(wait_seconds / (clock.factor or 1.0))


_INDEFINITE_PATH = re.compile(r"\*|\.\.|\?\(|\[[^\]]*[:,][^\]]*\]")  # wildcard, deep scan, filter, slice, union


def _extract_json(path: str, data: Any) -> Any:
    """ASL reference paths: a definite path selects a single value, even through an index."""
    if not _INDEFINITE_PATH.search(path):
        from jsonpath_ng.ext import parse

        matches = parse(path).find(data)
        if len(matches) == 1:
            return matches[0].value
    return ORIGINALS["json_path.extract_json"](path, data)


def _patch_extract_json() -> None:
    import moto.stepfunctions.parser.asl.eval.states  # noqa: F401 - loads every user of extract_json
    import moto.stepfunctions.parser.asl.parse.asl_parser  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import json_path

    original = ORIGINALS.setdefault("json_path.extract_json", json_path.extract_json)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "extract_json", None) is original:
            module.extract_json = _extract_json


def _validate_definition(definition: str) -> None:
    ORIGINALS["StepFunctionsParserBackend._validate_definition"](definition=definition)
    from .sfn_checks import check_definition

    check_definition(definition)


def _sns_publish(self: Any, message: str, message_id: str, subject: str | None = None,
                 message_attributes: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
    if self.protocol not in ("http", "https"):
        return ORIGINALS["Subscription.publish"](self, message, message_id, subject, message_attributes,
                                                  *args, **kwargs)
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return None
    if kwargs.get("message_structure") == "json":
        message = self._parse_message_structure(message, self.protocol)
    world = world_mod.current()
    world.deliveries.append(world_mod.Delivery(self.topic.arn, self.protocol, self.endpoint, subject, message))
    return None


def _name_parser_errors() -> None:
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser import api

    for value in vars(api).values():
        if isinstance(value, type) and issubclass(value, AWSError) and value.TYPE is None:
            code = vars(value).get("code")
            if isinstance(code, str):
                value.TYPE = code


def enable_moto_config() -> None:
    """Apply ``MOTO_CONFIG`` process-wide (the HTTP server; ``mock_aws`` takes it as ``config``)."""
    from moto.core.config import default_user_config

    for key, value in MOTO_CONFIG.items():
        default_user_config[key] = {**default_user_config.get(key, {}), **value}


def install() -> None:
    """Apply every patch once per process; safe to call repeatedly."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.cloudformation import models as cfn_models
        from moto.cloudformation import parsing
        from moto.cloudformation.responses import CloudFormationResponse
        from moto.core.responses import BaseResponse
        from moto.dms.responses import DatabaseMigrationServiceResponse
        from moto.s3.responses import S3Response
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk as aws_sdk,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
            StateTaskService,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        from .cfn import aws_resources, change_sets, dms_resources, stacks
        from .dms import api

        assert dms_resources.MODELS and aws_resources.MODELS  # importing defines the CloudFormationModel subclasses
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()

        api.install(DatabaseMigrationServiceResponse)

        global ORIGINAL_CALL_ACTION
        ORIGINAL_CALL_ACTION = BaseResponse.call_action
        BaseResponse.call_action = _wrap_call_action(BaseResponse.call_action)
        S3Response._bucket_response = _wrap_s3(S3Response._bucket_response, "bucket")
        S3Response._key_response = _wrap_s3(S3Response._key_response, "key")

        backend = cfn_models.CloudFormationBackend
        for name in ("create_stack", "update_stack", "delete_stack", "execute_change_set", "describe_stack_events"):
            ORIGINALS[f"CloudFormationBackend.{name}"] = getattr(backend, name)
        ORIGINALS["ChangeSet.diff"] = cfn_models.ChangeSet.diff
        ORIGINALS["CloudFormationResponse._validate_different_update"] = (
            CloudFormationResponse._validate_different_update
        )
        ORIGINALS["CloudFormationResponse._get_stack_from_s3_url"] = CloudFormationResponse._get_stack_from_s3_url
        backend.create_stack = stacks.create_stack
        backend.update_stack = stacks.update_stack
        backend.delete_stack = stacks.delete_stack
        backend.execute_change_set = stacks.execute_change_set
        backend.describe_stack_events = stacks.describe_stack_events
        cfn_models.ChangeSet.diff = change_sets.change_set_diff
        cfn_models.ChangeSet.status = change_sets.change_set_status
        cfn_models.ChangeSet.execution_status = change_sets.change_set_execution_status
        cfn_models.ChangeSet.status_reason = change_sets.change_set_status_reason
        cfn_models.Stack.status = stacks.status_property
        cfn_models.utcnow = stacks.sim_now

        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        ExecutionWorker.__deepcopy__ = lambda self, memo: self
        ORIGINALS["ExecutionWorker._get_evaluation_environment"] = ExecutionWorker._get_evaluation_environment
        ExecutionWorker._get_evaluation_environment = _wrap_evaluation_environment(
            ExecutionWorker._get_evaluation_environment)
        ORIGINALS["StateTaskServiceAwsSdk._eval_service_task"] = aws_sdk.StateTaskServiceAwsSdk._eval_service_task
        sdk_task = aws_sdk.StateTaskServiceAwsSdk
        sdk_task._eval_service_task = _wrap_sdk_task(sdk_task._eval_service_task)
        ORIGINALS["WaitFunction._wait_interval"] = WaitFunction._wait_interval
        WaitFunction._wait_interval = _sim_wait_interval
        StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["databasemigration"] = "dms"
        aws_sdk._SERVICE_ERROR_NAMES["databasemigration"] = "DatabaseMigration"
        _patch_extract_json()
        _name_parser_errors()
        from . import iam_rules, sfn_limits

        sfn_limits.install()
        iam_rules.install()
        from moto.sns.models import Subscription

        ORIGINALS["Subscription.publish"] = Subscription.publish
        Subscription.publish = _sns_publish
        ORIGINALS["StepFunctionsParserBackend._validate_definition"] = StepFunctionsParserBackend._validate_definition
        StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)

        CloudFormationResponse._validate_different_update = lambda self, *a, **k: None
        CloudFormationResponse._get_stack_from_s3_url = _get_stack_from_s3_url
        ORIGINALS["CloudFormationResponse.describe_stack_events"] = CloudFormationResponse.describe_stack_events
        CloudFormationResponse.describe_stack_events = stacks.describe_stack_events_response
        for name in ("create_stack", "update_stack", "create_change_set"):
            setattr(CloudFormationResponse, name, _check_template_size(getattr(CloudFormationResponse, name)))
        _installed = True


def is_installed() -> bool:
    return _installed
