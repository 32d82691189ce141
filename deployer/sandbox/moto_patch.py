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
     execute_change_set/describe_stack_events``, ``ChangeSet.diff``, ``Stack.status`` and the
     module's ``utcnow`` -> replaced (``cfn/stacks.py``);
  6. ``moto.cloudformation.responses.CloudFormationResponse._validate_different_update``,
     ``_get_stack_from_s3_url`` and template-size checks on create/update/change-set calls.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import world as world_mod
from .calls import Call, key_params

TEMPLATE_BODY_LIMIT = 51_200  # bytes, CloudFormation quotas
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

        from .cfn import dms_resources, stacks
        from .dms import api

        assert dms_resources.MODELS  # importing defines the CloudFormationModel subclasses
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
        cfn_models.ChangeSet.diff = stacks.change_set_diff
        cfn_models.Stack.status = stacks.status_property
        cfn_models.utcnow = stacks.sim_now

        CloudFormationResponse._validate_different_update = lambda self, *a, **k: None
        CloudFormationResponse._get_stack_from_s3_url = _get_stack_from_s3_url
        for name in ("create_stack", "update_stack", "create_change_set"):
            setattr(CloudFormationResponse, name, _check_template_size(getattr(CloudFormationResponse, name)))
        _installed = True


def is_installed() -> bool:
    return _installed
