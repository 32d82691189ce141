"""DMS resources other than tasks: instances, endpoints, subnet groups, connections, subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Endpoint request/response keys holding engine settings (DMS API names).
ENDPOINT_SETTINGS_KEYS = (
    "S3Settings", "MySQLSettings", "PostgreSQLSettings", "DmsTransferSettings", "MongoDbSettings",
    "KinesisSettings", "KafkaSettings", "ElasticsearchSettings", "NeptuneSettings", "RedshiftSettings",
    "OracleSettings", "SybaseSettings", "MicrosoftSQLServerSettings", "IBMDb2Settings", "DocDbSettings",
    "RedisSettings", "GcpMySQLSettings", "TimestreamSettings", "DynamoDbSettings",
)
ENDPOINT_SCALAR_KEYS = (
    "EndpointIdentifier", "EndpointType", "EngineName", "Username", "ServerName", "Port", "DatabaseName",
    "ExtraConnectionAttributes", "KmsKeyId", "CertificateArn", "SslMode", "ServiceAccessRoleArn",
    "ExternalTableDefinition",
)


# Clear-text connection values a Secrets Manager secret is used instead of (DMS API, e.g. MySQLSettings
# SecretsManagerAccessRoleArn: "You can't specify both"). Top-level or inside an engine's settings.
CLEAR_TEXT_KEYS = ("ServerName", "Port", "Username", "Password")


def uses_secret(props: dict[str, Any]) -> bool:
    return any(isinstance(props.get(k), dict) and props[k].get("SecretsManagerSecretId")
               for k in ENDPOINT_SETTINGS_KEYS)


def clear_text(props: dict[str, Any]) -> list[str]:
    """The clear-text connection values given, as ``ServerName`` or ``MySQLSettings.ServerName``."""
    found = [k for k in CLEAR_TEXT_KEYS if props.get(k) not in (None, "")]
    for key in ENDPOINT_SETTINGS_KEYS:
        if isinstance(props.get(key), dict):
            found += [f"{key}.{k}" for k in CLEAR_TEXT_KEYS if props[key].get(k) not in (None, "")]
    return found


def drop_clear_text(props: dict[str, Any]) -> None:
    for k in CLEAR_TEXT_KEYS:
        props.pop(k, None)
    for key in ENDPOINT_SETTINGS_KEYS:
        if isinstance(props.get(key), dict):
            props[key] = {k: v for k, v in props[key].items() if k not in CLEAR_TEXT_KEYS}


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


@dataclass
class ReplicationInstance:
    arn: str
    identifier: str
    instance_class: str
    created_at: datetime
    available_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)

    def status(self, now: datetime) -> str:
        return "available" if now >= self.available_at else "creating"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        props = self.properties
        out = {
            "ReplicationInstanceIdentifier": self.identifier,
            "ReplicationInstanceClass": self.instance_class,
            "ReplicationInstanceStatus": self.status(now),
            "AllocatedStorage": props.get("AllocatedStorage", 50),
            "InstanceCreateTime": _ts(self.created_at),
            "VpcSecurityGroups": [
                {"VpcSecurityGroupId": sg, "Status": "active"} for sg in props.get("VpcSecurityGroupIds", [])
            ],
            "MultiAZ": bool(props.get("MultiAZ", False)),
            "EngineVersion": props.get("EngineVersion", "3.5.3"),
            "AutoMinorVersionUpgrade": bool(props.get("AutoMinorVersionUpgrade", True)),
            "ReplicationInstanceArn": self.arn,
            "ReplicationInstancePrivateIpAddresses": ["10.0.0.10"],
            "ReplicationInstancePublicIpAddresses": [],
            "PubliclyAccessible": bool(props.get("PubliclyAccessible", False)),
            "PendingModifiedValues": {},
        }
        if props.get("ReplicationSubnetGroupIdentifier"):
            out["ReplicationSubnetGroup"] = {
                "ReplicationSubnetGroupIdentifier": props["ReplicationSubnetGroupIdentifier"]
            }
        for key in ("AvailabilityZone", "PreferredMaintenanceWindow", "KmsKeyId", "NetworkType"):
            if props.get(key) is not None:
                out[key] = props[key]
        return out


@dataclass
class Endpoint:
    arn: str
    identifier: str
    endpoint_type: str
    engine_name: str
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def s3_settings(self) -> dict[str, Any] | None:
        return self.properties.get("S3Settings")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EndpointIdentifier": self.identifier,
            "EndpointType": self.endpoint_type.upper(),
            "EngineName": self.engine_name,
            "EngineDisplayName": self.engine_name,
            "Status": "active",
            "EndpointArn": self.arn,
        }
        for key in ENDPOINT_SCALAR_KEYS + ENDPOINT_SETTINGS_KEYS:
            if key not in out and self.properties.get(key) is not None:
                out[key] = self.properties[key]
        return out


@dataclass
class SubnetGroup:
    identifier: str
    description: str
    subnet_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ReplicationSubnetGroupIdentifier": self.identifier,
            "ReplicationSubnetGroupDescription": self.description,
            "VpcId": "vpc-sandbox",
            "SubnetGroupStatus": "Complete",
            "Subnets": [
                {"SubnetIdentifier": s, "SubnetAvailabilityZone": {"Name": "a"}, "SubnetStatus": "Active"}
                for s in self.subnet_ids
            ],
            "SupportedNetworkTypes": ["IPV4"],
        }


@dataclass
class Connection:
    instance: ReplicationInstance
    endpoint: Endpoint
    started: datetime
    duration: float
    failure: str | None = None

    def status(self, now: datetime) -> str:
        if now < self.started + timedelta(seconds=self.duration):
            return "testing"
        return "failed" if self.failure else "successful"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        status = self.status(now)
        return {
            "ReplicationInstanceArn": self.instance.arn,
            "EndpointArn": self.endpoint.arn,
            "Status": status,
            "LastFailureMessage": (self.failure or "") if status == "failed" else "",
            "EndpointIdentifier": self.endpoint.identifier,
            "ReplicationInstanceIdentifier": self.instance.identifier,
        }


@dataclass
class EventSubscription:
    name: str
    sns_topic_arn: str
    source_type: str | None
    event_categories: list[str]
    source_ids: list[str]
    enabled: bool
    customer_aws_id: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "CustomerAwsId": self.customer_aws_id,
            "CustSubscriptionId": self.name,
            "SnsTopicArn": self.sns_topic_arn,
            "Status": "active",
            "SubscriptionCreationTime": self.created_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "SourceIdsList": list(self.source_ids),
            "EventCategoriesList": list(self.event_categories),
            "Enabled": self.enabled,
        }
        if self.source_type:
            out["SourceType"] = self.source_type
        return out
