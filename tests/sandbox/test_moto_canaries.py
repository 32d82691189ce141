"""Canaries: every moto internal the sandbox relies on (see sandbox/moto_patch.py).

If one of these fails after a moto upgrade, the sandbox is silently wrong: fix moto_patch.py
(or pin moto back) before trusting any other sandbox test.
"""

from __future__ import annotations

import inspect

import pytest

moto = pytest.importorskip("moto")

from dmsctl.sandbox import moto_patch  # noqa: E402

moto_patch.install()


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_moto_version_is_the_pinned_one():
    assert moto.__version__ == "5.2.1", "moto changed: re-check every canary below and moto_patch.py"


def test_cfn_model_discovery_is_cached_direct_subclasses():
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    from dmsctl.sandbox.cfn.dms_resources import MODELS

    for name in ("get_model_list", "get_model_map", "get_name_type_map"):
        assert hasattr(getattr(parsing, name), "cache_clear"), f"parsing.{name} is no longer lru-cached"
    assert set(MODELS) <= set(CloudFormationModel.__subclasses__()), "discovery no longer uses __subclasses__"
    for model in MODELS:
        assert parsing.get_model_map()[model.cloudformation_type()] is model, "DMS models not registered"
        assert parsing.get_name_type_map()[model.cloudformation_type()] == model.NAME_PROPERTY


def test_cfn_parsing_helpers_keep_their_signatures():
    from moto.cloudformation import parsing

    assert _params(parsing.clean_json) == ["resource_json", "resources_map"]
    assert _params(parsing.parse_and_update_resource) == [
        "logical_id", "resource_json", "resources_map", "account_id", "region_name"]
    assert _params(parsing.OutputMap.__init__) == ["self", "resources", "template", "stack_id"]
    rm_attrs = ("load_mapping", "load_parameters", "load_conditions", "_delete_resource")
    assert all(hasattr(parsing.ResourceMap, a) for a in rm_attrs), "ResourceMap API changed"
    source = inspect.getsource(parsing.ResourceMap)
    for attr in ("_template", "_resource_json_map", "_parsed_resources", "input_parameters",
                 "lazy_condition_map", "cross_stack_resources", "resolved_parameters", "tags"):
        assert f"self.{attr}" in source, f"ResourceMap no longer has {attr}"


def test_dms_response_dispatches_by_snake_case_method_name():
    from moto.core.responses import BaseResponse
    from moto.core.utils import camelcase_to_underscores, method_names_from_class
    from moto.dms.responses import DatabaseMigrationServiceResponse

    assert camelcase_to_underscores("DescribeTableStatistics") == "describe_table_statistics"
    assert "describe_table_statistics" in method_names_from_class(DatabaseMigrationServiceResponse)
    source = inspect.getsource(moto_patch.ORIGINAL_CALL_ACTION)
    assert "camelcase_to_underscores(self._get_action())" in source
    assert "method_names_from_class" in source
    assert getattr(BaseResponse.call_action, "sandbox_wrapped", False)


def test_base_response_attributes_used_by_the_call_wrapper():
    from moto.core.responses import BaseResponse

    for attr in ("_get_action", "boto3_service_name", "get_current_account"):
        assert hasattr(BaseResponse, attr)
    assert "MOTO_ACCOUNT_ID" in inspect.getsource(BaseResponse.get_current_account)


def test_s3_response_handlers_are_wrappable():
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    for name in ("_bucket_response", "_key_response"):
        fn = getattr(S3Response, name)
        assert getattr(fn, "sandbox_wrapped", False)
        assert _params(fn.__wrapped__) == ["self", "request", "full_url"]
    assert hasattr(S3Response, "parse_key_name")
    backend_cls = type(s3_backends["123456789012"]["aws"])
    assert {"get_bucket", "put_object"} <= set(dir(backend_cls))


def test_replaced_cloudformation_methods_keep_moto_signatures():
    from dmsctl.sandbox.cfn import change_sets, stacks

    replacements = {
        "CloudFormationBackend.create_stack": stacks.create_stack,
        "CloudFormationBackend.update_stack": stacks.update_stack,
        "CloudFormationBackend.delete_stack": stacks.delete_stack,
        "CloudFormationBackend.execute_change_set": stacks.execute_change_set,
        "CloudFormationBackend.describe_stack_events": stacks.describe_stack_events,
        "ChangeSet.diff": change_sets.change_set_diff,
    }
    for name, ours in replacements.items():
        assert _params(moto_patch.ORIGINALS[name]) == _params(ours), f"moto changed {name}"
    assert _params(moto_patch.ORIGINALS["CloudFormationResponse._get_stack_from_s3_url"]) == ["self", "template_url"]


def test_cloudformation_models_used_by_the_stack_engine():
    from moto.cloudformation import models
    from moto.cloudformation.utils import get_stack_from_s3_url

    assert models.utcnow is not None and callable(models.utcnow)
    assert _params(models.Event.__init__)[1:] == [
        "stack_id", "stack_name", "logical_resource_id", "physical_resource_id", "resource_type",
        "resource_status", "resource_status_reason", "resource_properties"]
    assert _params(models.Change.__init__) == ["self", "action", "logical_resource_id", "resource_type"]
    for attr in ("_create_output_map", "_create_resource_map", "parse_template", "exports"):
        assert hasattr(models.Stack, attr)
    assert isinstance(inspect.getattr_static(models.Stack, "status"), property), "Stack.status patch missing"
    assert _params(get_stack_from_s3_url) == ["template_url", "account_id", "partition"]
    assert "self.status = " in inspect.getsource(models.Stack.__init__)
    # change sets: moto assigns these in ChangeSet.__init__ and create_change_set; ours are properties (A70)
    source = inspect.getsource(models.ChangeSet.__init__)
    for attr in ("status", "execution_status", "status_reason"):
        assert f"self.{attr}" in source, f"moto no longer sets ChangeSet.{attr}"
        assert isinstance(inspect.getattr_static(models.ChangeSet, attr), property), f"ChangeSet.{attr} patch missing"


def test_exceptions_and_server_entry_points():
    from moto.core.exceptions import JsonRESTError
    from moto.moto_api._internal.models import moto_api_backend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.exceptions import MissingBucket

    err = JsonRESTError("InvalidResourceStateFault", "msg")
    assert err.code == 400 and '"__type": "InvalidResourceStateFault"' in err.description
    assert callable(moto_api_backend.reset)
    assert DomainDispatcherApplication and create_backend_app and MissingBucket


def test_step_functions_internals_the_sandbox_relies_on():
    from moto.cloudformation import parsing
    from moto.settings import moto_server_port
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.parser import api
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.utils import boto_client

    from dmsctl.sandbox.cfn.aws_resources import MODELS

    assert "execute_state_machine" in inspect.getsource(sfn_responses.get_backend)
    # moto's own CFN model writes to the plain backend: the reason the sandbox has its own
    assert "stepfunctions_backends[" in inspect.getsource(sfn_models.StateMachine.create_from_cloudformation_json)
    for model in MODELS:
        assert parsing.get_model_map()[model.cloudformation_type()] is model, "sandbox model lost to moto's"
    assert _params(moto_patch.ORIGINALS["WaitFunction._wait_interval"]) == ["self", "env", "wait_seconds"]
    assert WaitFunction._wait_interval is moto_patch._sim_wait_interval
    assert StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["databasemigration"] == "dms"
    assert aws_sdk._SERVICE_ERROR_NAMES["databasemigration"] == "DatabaseMigration"
    assert _params(moto_patch.ORIGINALS["StepFunctionsParserBackend._validate_definition"]) == ["definition"]
    assert api.InvalidDefinition.TYPE == "InvalidDefinition"
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for)
    assert "MOTO_PORT" in inspect.getsource(moto_server_port)


def test_every_user_of_extract_json_gets_the_patched_one():
    import importlib
    import pathlib

    import moto.stepfunctions.parser as parser

    root = pathlib.Path(parser.__file__).parent
    users = [p for p in root.rglob("*.py")
             if "extract_json," in p.read_text() or "import extract_json" in p.read_text()]
    assert users, "moto no longer imports extract_json anywhere: re-check moto_patch._patch_extract_json"
    for path in users:
        name = "moto.stepfunctions.parser." + ".".join(path.relative_to(root).with_suffix("").parts)
        assert importlib.import_module(name).extract_json is moto_patch._extract_json, name


def test_sns_subscription_publish_keeps_its_signature():
    params = _params(moto_patch.ORIGINALS["Subscription.publish"])
    assert params[:5] == ["self", "message", "message_id", "subject", "message_attributes"]
    assert "message_structure" in params
    from moto.sns.models import Subscription

    assert {"_filter_policy_matcher", "_parse_message_structure"} <= set(dir(Subscription("1", _Topic(), "e", "https")))


class _Topic:
    arn = "arn:aws:sns:eu-west-1:123456789012:t"


def test_step_functions_execution_internals_patched_for_the_sandbox():
    """moto_patch 14-16: the context object's Execution data, the SDK task result on the stack, and the
    deep copy of a state machine's executions on StartExecution."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert _params(moto_patch.ORIGINALS["ExecutionWorker._get_evaluation_environment"]) == ["self"]
    assert _params(moto_patch.ORIGINALS["StateTaskServiceAwsSdk._eval_service_task"])[:2] == ["self", "env"]
    assert StateTaskServiceAwsSdk._eval_service_task is not moto_patch.ORIGINALS[
        "StateTaskServiceAwsSdk._eval_service_task"]
    assert "stack" in inspect.signature(Environment.__init__).parameters or hasattr(Environment, "stack")
    assert ExecutionWorker.__deepcopy__(worker := object.__new__(ExecutionWorker), {}) is worker


def test_step_functions_payload_quota_internals():
    """sfn_limits.py: the quota check moto imports by name, the task hook and the ErrorEquals evaluation."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    from dmsctl.sandbox import sfn_limits

    original = sfn_limits.ORIGINALS
    assert _params(original["quotas.is_within_size_quota"]) == ["value"]
    assert _params(original["StateTaskService._before_eval_execution"]) == [
        "self", "env", "resource_runtime_part", "raw_parameters", "state_credentials"]
    assert _params(original["ErrorEqualsDecl._eval_body"]) == ["self", "env"]
    assert StateTaskService._before_eval_execution is sfn_limits._before_eval_execution
    assert ErrorEqualsDecl._eval_body is sfn_limits._error_equals_eval_body
    from moto.stepfunctions.parser.asl.component.state import state

    assert state.is_within_size_quota is sfn_limits.within_quota, "moto no longer imports the quota check by name"
