"""CloudFormation models for non-DMS types moto lacks or places wrongly.

* ``AWS::StepFunctions::StateMachine``: moto's model always writes to its plain Step Functions
  backend, while the API uses the ASL-parsing backend once ``execute_state_machine`` is on (the
  sandbox turns it on: moto_patch.MOTO_CONFIG), so a stack's state machine would be invisible to
  the API and never validated. This model goes through the API's backend: an invalid definition
  fails the resource (and rolls the stack back). Definition / DefinitionString and
  DefinitionSubstitutions as documented; DefinitionS3Location is not supported.
* ``AWS::SNS::Subscription`` and ``AWS::SNS::TopicPolicy``: moto has no model (a stack silently
  skipped them).
"""

from __future__ import annotations

import json
from typing import Any

import moto.sns.models  # noqa: F401 - moto's models are defined first, so the ones below win the type map
import moto.stepfunctions.models  # noqa: F401
from moto.core.common_models import CloudFormationModel

from ..sfn_checks import PREFIX
from .model import SandboxModel

SNS_PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")
SUBSCRIPTION_ATTRIBUTES = ("FilterPolicyScope", "FilterPolicy", "RawMessageDelivery", "RedrivePolicy",
                           "DeliveryPolicy", "SubscriptionRoleArn")  # scope first: moto validates the policy by it


class HandlerError(Exception):
    """A resource handler failure as CloudFormation reports it (cfn/engine.py ``handler_message``)."""

    def __init__(self, code: str, message: str, service: str):
        super().__init__(message)
        self.error_type, self.message, self.service = code, message, service


# --- Step Functions ----------------------------------------------------------------------------
def definition_of(props: dict[str, Any]) -> str:
    if props.get("DefinitionS3Location"):
        raise HandlerError("InvalidRequest", "DefinitionS3Location is not supported by the sandbox", "Sfn")
    definition = props.get("Definition")
    text = json.dumps(definition) if definition is not None else str(props.get("DefinitionString") or "")
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        replacement = json.dumps(value) if isinstance(value, bool) else str(value)
        text = text.replace("${" + key + "}", replacement)
    return text


def _sfn_call(fn, *args: Any, **kwargs: Any) -> Any:
    from moto.stepfunctions.parser.api import InvalidDefinition

    try:
        return fn(*args, **kwargs)
    except InvalidDefinition as exc:
        message = exc.message if exc.message.startswith(PREFIX) else f"{PREFIX}'{exc.message}'"
        raise HandlerError("InvalidDefinition", message, "Sfn") from exc


class SfnStateMachine(SandboxModel, CloudFormationModel):
    TYPE = "AWS::StepFunctions::StateMachine"
    NAME_PROPERTY = "StateMachineName"

    @classmethod
    def backend(cls, account_id: str, region: str) -> Any:
        from moto.stepfunctions.responses import get_backend

        return get_backend(account_id, region)

    def attributes(self) -> dict[str, Any]:
        machine = self.backend(self.account_id, self.region).describe_state_machine(self.physical_id)
        return {"Arn": machine.arn, "Name": machine.name, "StateMachineRevisionId": str(machine.update_date)}

    @classmethod
    def _create(cls, backend, name, props):
        from moto.stepfunctions.utils import cfn_to_api_tags

        machine = _sfn_call(
            backend.create_state_machine, name, definition_of(props), props.get("RoleArn", ""),
            tags=cfn_to_api_tags(props.get("Tags") or []),
            loggingConfiguration=props.get("LoggingConfiguration"),
            tracingConfiguration=props.get("TracingConfiguration"),
        )
        machine.type = machine.sm_type = props.get("StateMachineType") or "STANDARD"
        return machine.arn

    @classmethod
    def _update(cls, backend, resource, name, props):
        _sfn_call(backend.update_state_machine, resource.physical_id, definition=definition_of(props),
                  role_arn=props.get("RoleArn") or None)

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_state_machine(physical_id)

    @classmethod
    def _retag(cls, backend, resource, old, new):
        from moto.stepfunctions.utils import cfn_to_api_tags

        backend.untag_resource(resource.physical_id, [t["Key"] for t in old])
        backend.tag_resource(resource.physical_id, cfn_to_api_tags(new))


# --- SNS -----------------------------------------------------------------------------------------
def _sns(account_id: str, region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region]


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


class SnsSubscription(SandboxModel, CloudFormationModel):
    TYPE = "AWS::SNS::Subscription"

    @classmethod
    def backend(cls, account_id: str, region: str) -> Any:
        return _sns(account_id, region)

    def attributes(self) -> dict[str, Any]:
        return {"Arn": self.physical_id}

    @classmethod
    def _create(cls, backend, name, props):
        protocol, endpoint = str(props.get("Protocol", "")), str(props.get("Endpoint", ""))
        if protocol not in SNS_PROTOCOLS:
            raise HandlerError("InvalidParameter", f"Invalid parameter: Protocol {protocol!r}", "Sns")
        if protocol in ("http", "https") and not endpoint.startswith(f"{protocol}://"):
            raise HandlerError("InvalidParameter", "Invalid parameter: Endpoint must match the specified protocol",
                               "Sns")
        if protocol.startswith("email") and "@" not in endpoint:
            raise HandlerError("InvalidParameter", "Invalid parameter: Email address", "Sns")
        arn = backend.subscribe(props["TopicArn"], endpoint, protocol).arn
        cls._set_attributes(backend, arn, {}, props)
        return arn

    @classmethod
    def _set_attributes(cls, backend, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for key in SUBSCRIPTION_ATTRIBUTES:
            if key in new and new[key] != old.get(key):
                backend.set_subscription_attributes(arn, key, _attribute_value(new[key]))

    @classmethod
    def _update(cls, backend, resource, name, props):
        cls._set_attributes(backend, resource.physical_id, resource.props, props)

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.unsubscribe(physical_id)


class SnsTopicPolicy(SandboxModel, CloudFormationModel):
    """Ref: a generated policy id. Deleting the policy (or dropping a topic from it) restores the
    topic's default policy."""

    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def backend(cls, account_id: str, region: str) -> Any:
        return _sns(account_id, region)

    @classmethod
    def _apply(cls, backend, props: dict[str, Any]) -> None:
        document = props.get("PolicyDocument") or {}
        text = document if isinstance(document, str) else json.dumps(document)
        for topic in props.get("Topics") or []:
            backend.set_topic_attribute(topic, "policy", text)

    @classmethod
    def _reset(cls, backend, topics: list[str]) -> None:
        for arn in topics:
            topic = backend.topics.get(arn)
            if topic is not None:
                default = topic._create_default_topic_policy(backend.region_name, topic.account_id, topic.name)
                topic.policy = json.dumps(default)

    @classmethod
    def _create(cls, backend, name, props):
        cls._apply(backend, props)
        return name

    @classmethod
    def _update(cls, backend, resource, name, props):
        kept = set(props.get("Topics") or [])
        cls._reset(backend, [t for t in resource.props.get("Topics") or [] if t not in kept])
        cls._apply(backend, props)

    @classmethod
    def _delete(cls, backend, physical_id):
        """Only reached without the resource object; ``delete`` below knows the topics."""

    def delete(self, account_id: str, region_name: str) -> None:
        self._reset(self.backend(account_id, region_name), list(self.props.get("Topics") or []))


MODELS = (SfnStateMachine, SnsSubscription, SnsTopicPolicy)
