"""CloudFormation resource models for AWS::DMS::* on top of the sandbox DMS backend.

The create/update/replace/delete protocol is ``SandboxModel``'s (cfn/model.py); each class
maps it to DMS API calls.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel

from .. import world as world_mod
from ..dms.backend import DmsBackend
from .model import CustomNamedReplacement, SandboxModel

__all__ = ["MODELS", "CustomNamedReplacement"]

# CloudFormation property name -> DMS API parameter name, where they differ.
CFN_TO_API = {
    "MySqlSettings": "MySQLSettings",
    "PostgreSqlSettings": "PostgreSQLSettings",
    "MicrosoftSqlServerSettings": "MicrosoftSQLServerSettings",
    "IbmDb2Settings": "IBMDb2Settings",
}


def _api_params(props: dict[str, Any]) -> dict[str, Any]:
    return {CFN_TO_API.get(k, k): v for k, v in props.items()}


class _DmsModel(SandboxModel):
    @classmethod
    def backend(cls, account_id: str, region: str) -> DmsBackend:
        backend = world_mod.current().dms_backend(account_id, region)
        backend.sync()
        return backend

    def attributes(self) -> dict[str, Any]:
        return {"ReplicationInstancePrivateIpAddresses": "10.0.0.10", "ReplicationInstancePublicIpAddresses": ""}

    @classmethod
    def _retag(cls, backend: DmsBackend, resource: SandboxModel, old: list, new: list) -> None:
        arn = cls._tag_arn(backend, resource)
        backend.remove_tags(arn, [t["Key"] for t in old if t["Key"] not in {n["Key"] for n in new}])
        backend.add_tags(arn, new)

    @classmethod
    def _tag_arn(cls, backend: DmsBackend, resource: SandboxModel) -> str:
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
        backend.delete_replication_task(physical_id, via_cloudformation=True)  # the handler waits until gone (A66)


class DmsEndpoint(_DmsModel, CloudFormationModel):
    TYPE = "AWS::DMS::Endpoint"
    NAME_PROPERTY = "EndpointIdentifier"

    @classmethod
    def _create(cls, backend, name, props):
        params = _api_params(props) | {"EndpointIdentifier": name}
        return backend.create_endpoint(params)["EndpointArn"]

    @classmethod
    def _update(cls, backend, resource, name, props):
        params = _api_params(props) | {"EndpointArn": resource.physical_id, "EndpointIdentifier": name,
                                       "ExactSettings": True}  # the template is the whole endpoint (A27)
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
