"""CloudFormation resource models for AWS::DMS::* on top of the sandbox DMS backend.

moto discovers resource models as *direct* subclasses of ``CloudFormationModel``, so every
class below lists it as a base (after the shared mixin). Updates follow the registry schema:
a change to a create-only property creates a replacement (the engine deletes the old
resource during cleanup); everything else is modified in place.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from moto.core.common_models import CloudFormationModel

from .. import world as world_mod
from ..dms.backend import DmsBackend
from .schema import create_only_properties, read_only_properties

# CloudFormation property name -> DMS API parameter name, where they differ.
CFN_TO_API = {
    "MySqlSettings": "MySQLSettings",
    "PostgreSqlSettings": "PostgreSQLSettings",
    "MicrosoftSqlServerSettings": "MicrosoftSQLServerSettings",
    "IbmDb2Settings": "IBMDb2Settings",
}


class CustomNamedReplacement(Exception):
    """Documented CFN rule: a custom-named resource cannot be replaced (rename it)."""


def _backend(account_id: str, region_name: str) -> DmsBackend:
    backend = world_mod.current().dms_backend(account_id, region_name)
    backend.sync()
    return backend


def _api_params(props: dict[str, Any]) -> dict[str, Any]:
    return {CFN_TO_API.get(k, k): v for k, v in props.items()}


class _DmsModel:
    """Shared behaviour; subclasses set TYPE, NAME_PROPERTY and the four backend hooks."""

    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str]

    def __init__(self, account_id: str, region: str, physical_id: str, name: str, props: dict[str, Any]):
        self.account_id = account_id
        self.region = region
        self.physical_id = physical_id
        self.name = name
        self.props = props
        self.external_id = str(uuid.uuid4())

    # --- moto model protocol ---------------------------------------------------------------
    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in read_only_properties(cls.TYPE)

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.physical_id
        if attribute_name == "ExternalId":
            return self.external_id
        if attribute_name == "ReplicationInstancePrivateIpAddresses":
            return "10.0.0.10"
        if attribute_name == "ReplicationInstancePublicIpAddresses":
            return ""
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _DmsModel:
        props = dict(cloudformation_json.get("Properties") or {})
        name = props.get(cls.NAME_PROPERTY) or resource_name
        physical_id = cls._create(_backend(account_id, region_name), name, props)
        return cls(account_id, region_name, physical_id, name, props)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: _DmsModel, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _DmsModel:
        props = dict(cloudformation_json.get("Properties") or {})
        old = original_resource.props
        create_only = create_only_properties(cls.TYPE)
        if any(old.get(p) != props.get(p) for p in create_only):
            explicit = props.get(cls.NAME_PROPERTY)
            if explicit and explicit == original_resource.name:
                raise CustomNamedReplacement(
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {explicit} and update the stack again."
                )
            name = explicit or new_resource_name
            physical_id = cls._create(_backend(account_id, region_name), name, props)
            return cls(account_id, region_name, physical_id, name, props)
        changed = {k for k in set(old) | set(props) if old.get(k) != props.get(k)}
        backend = _backend(account_id, region_name)
        name = props.get(cls.NAME_PROPERTY) or original_resource.name
        if changed - {"Tags"}:
            cls._update(backend, original_resource, name, props)
        if "Tags" in changed:
            cls._retag(backend, original_resource, old.get("Tags") or [], props.get("Tags") or [])
        original_resource.props = props
        original_resource.name = name
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cls._delete(_backend(account_id, region_name), resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete(_backend(account_id, region_name), self.physical_id)

    # --- per-type hooks --------------------------------------------------------------------
    @classmethod
    def _create(cls, backend: DmsBackend, name: str, props: dict[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def _update(cls, backend: DmsBackend, resource: _DmsModel, name: str, props: dict[str, Any]) -> None:
        raise NotImplementedError

    @classmethod
    def _delete(cls, backend: DmsBackend, physical_id: str) -> None:
        raise NotImplementedError

    @classmethod
    def _retag(cls, backend: DmsBackend, resource: _DmsModel, old: list, new: list) -> None:
        arn = cls._tag_arn(backend, resource)
        backend.remove_tags(arn, [t["Key"] for t in old if t["Key"] not in {n["Key"] for n in new}])
        backend.add_tags(arn, new)

    @classmethod
    def _tag_arn(cls, backend: DmsBackend, resource: _DmsModel) -> str:
        return resource.physical_id


class DmsReplicationTask(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::ReplicationTask"
    NAME_PROPERTY = "ReplicationTaskIdentifier"

    @classmethod
    def _create(cls, backend, name, props):
        params = _api_params(props) | {"ReplicationTaskIdentifier": name}
        return backend.create_replication_task(params, via_cloudformation=True)["ReplicationTaskArn"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        keys = ("MigrationType", "TableMappings", "ReplicationTaskSettings", "CdcStartPosition",
                "CdcStopPosition", "TaskData")
        params = {k: props.get(k) for k in keys if props.get(k) != resource.props.get(k)}
        params |= {"ReplicationTaskArn": resource.physical_id, "ReplicationTaskIdentifier": name}
        backend.modify_replication_task(params, via_cloudformation=True)

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_replication_task(physical_id)


class DmsEndpoint(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::Endpoint"
    NAME_PROPERTY = "EndpointIdentifier"

    @classmethod
    def _create(cls, backend, name, props):
        params = _api_params(props) | {"EndpointIdentifier": name}
        return backend.create_endpoint(params)["EndpointArn"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        params = _api_params(props) | {"EndpointArn": resource.physical_id, "EndpointIdentifier": name}
        params.pop("Tags", None)
        backend.modify_endpoint(params)

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_endpoint(physical_id)


class DmsReplicationInstance(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::ReplicationInstance"
    NAME_PROPERTY = "ReplicationInstanceIdentifier"

    @classmethod
    def _create(cls, backend, name, props):
        params = _api_params(props) | {"ReplicationInstanceIdentifier": name}
        return backend.create_replication_instance(params)["ReplicationInstanceArn"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        params = {k: v for k, v in props.items() if k != "Tags"} | {"ReplicationInstanceArn": resource.physical_id}
        backend.modify_replication_instance(params)

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_replication_instance(physical_id)


class DmsReplicationSubnetGroup(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::ReplicationSubnetGroup"
    NAME_PROPERTY = "ReplicationSubnetGroupIdentifier"

    @classmethod
    def _create(cls, backend, name, props):
        params = dict(props) | {"ReplicationSubnetGroupIdentifier": name}
        return backend.create_replication_subnet_group(params)["ReplicationSubnetGroupIdentifier"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        params = {k: v for k, v in props.items() if k != "Tags"}
        backend.modify_replication_subnet_group(params | {"ReplicationSubnetGroupIdentifier": resource.physical_id})

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_replication_subnet_group(physical_id)

    @classmethod
    def _tag_arn(cls, backend, resource):
        return backend.arn("subgrp", resource.physical_id)


class DmsEventSubscription(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::EventSubscription"
    NAME_PROPERTY = "SubscriptionName"

    @classmethod
    def _create(cls, backend, name, props):
        params = dict(props) | {"SubscriptionName": name}
        return backend.create_event_subscription(params)["CustSubscriptionId"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        params = {k: v for k, v in props.items() if k not in ("Tags", "SourceIds")}
        backend.modify_event_subscription(params | {"SubscriptionName": resource.physical_id})

    @classmethod
    def _delete(cls, backend, physical_id):
        backend.delete_event_subscription(physical_id)

    @classmethod
    def _tag_arn(cls, backend, resource):
        return backend.arn("es", resource.physical_id)


MODELS = (DmsReplicationTask, DmsEndpoint, DmsReplicationInstance, DmsReplicationSubnetGroup, DmsEventSubscription)
