"""CloudFormation templates for the sandbox tests, shaped like dmsctl's base + team stacks."""

from __future__ import annotations

import copy
import json
from typing import Any

BUCKET = "datalake"


def selection(schema: str, table: str, rule_id: int, action: str = "include") -> dict[str, Any]:
    return {
        "rule-type": "selection", "rule-id": str(rule_id), "rule-name": f"select-{rule_id}",
        "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": action,
    }


def rename(target: str, schema: str, value: str, rule_id: int, table: str | None = None) -> dict[str, Any]:
    locator = {"schema-name": schema} | ({"table-name": table} if table else {})
    return {
        "rule-type": "transformation", "rule-id": str(rule_id), "rule-name": f"rename-{rule_id}",
        "rule-target": target, "object-locator": locator, "rule-action": "rename", "value": value,
    }


def mappings(*tables: str, versions: dict[str, str] | None = None) -> str:
    """TableMappings selecting ``schema.table`` entries, renamed like dmsctl: data/<table>_<version>."""
    rules: list[dict[str, Any]] = []
    rid = 1
    for qualified in tables:
        schema, table = qualified.split(".")
        rules.append(selection(schema, table, rid))
        rules.append(rename("schema", schema, "data", rid + 1))
        version = (versions or {}).get(qualified, "v1")
        rules.append(rename("table", schema, f"{table}_{version}", rid + 2, table))
        rid += 3
    return json.dumps({"rules": rules})


def base_template(folder: str = "raw", deletes: bool = False) -> dict[str, Any]:
    """The data-lake role writes (no s3:DeleteObject, as dmsctl's); ``deletes``: it may delete objects too."""
    actions = ["s3:PutObject", "s3:DeleteObject"] if deletes else ["s3:PutObject"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "dmsctl base stack (sandbox test)",
        "Resources": {
            "DatalakeBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}},
            "DmsRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "dms-datalake-access",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}],
                    },
                    "Policies": [{"PolicyName": "datalake", "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{BUCKET}/*"}],
                    }}],
                },
            },
            "DmsSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "dms", "GroupName": "dms-sg"},
            },
            "SubnetGroup": {
                "Type": "AWS::DMS::ReplicationSubnetGroup",
                "Properties": {"ReplicationSubnetGroupIdentifier": "dms-subnets",
                               "ReplicationSubnetGroupDescription": "dms", "SubnetIds": ["subnet-1", "subnet-2"]},
            },
            "LakeEndpoint": {
                "Type": "AWS::DMS::Endpoint",
                "Properties": {
                    "EndpointIdentifier": "datalake-10min",
                    "EndpointType": "target",
                    "EngineName": "s3",
                    "S3Settings": {"BucketName": {"Ref": "DatalakeBucket"}, "BucketFolder": folder,
                                   "ServiceAccessRoleArn": {"Fn::GetAtt": ["DmsRole", "Arn"]},
                                   "CdcMaxBatchInterval": 600},
                },
            },
            "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "dms-alerts"}},
            "StateTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"TableName": "dmsctl-state", "BillingMode": "PAY_PER_REQUEST",
                               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]},
            },
        },
        "Outputs": {
            "LakeEndpointArn": {"Value": {"Ref": "LakeEndpoint"}, "Export": {"Name": "dmsctl-LakeEndpointArn"}},
            "SubnetGroupName": {"Value": {"Ref": "SubnetGroup"}, "Export": {"Name": "dmsctl-SubnetGroup"}},
            "AlertsTopic": {"Value": {"Ref": "Alerts"}, "Export": {"Name": "dmsctl-AlertsTopic"}},
            "SecurityGroupId": {"Value": {"Fn::GetAtt": ["DmsSecurityGroup", "GroupId"]},
                                "Export": {"Name": "dmsctl-SecurityGroupId"}},
        },
    }


def team_template(tasks: dict[str, str], migration_type: str = "full-load-and-cdc",
                  task_settings: str | None = None, engine: str = "mysql") -> dict[str, Any]:
    """A team stack: source endpoint, instance, one task per ``{task id: TableMappings}``."""
    settings_key = "MySqlSettings" if engine == "mysql" else "PostgreSqlSettings"
    resources: dict[str, Any] = {
        "SourceEndpoint": {
            "Type": "AWS::DMS::Endpoint",
            "Properties": {
                "EndpointIdentifier": "team-a-source",
                "EndpointType": "source",
                "EngineName": engine,
                settings_key: {
                    "SecretsManagerSecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team-a-db",
                    "SecretsManagerAccessRoleArn": "arn:aws:iam::123456789012:role/dms-secrets",
                },
            },
        },
        "Instance": {
            "Type": "AWS::DMS::ReplicationInstance",
            "Properties": {
                "ReplicationInstanceIdentifier": "team-a-instance",
                "ReplicationInstanceClass": "dms.t3.medium",
                "ReplicationSubnetGroupIdentifier": {"Fn::ImportValue": "dmsctl-SubnetGroup"},
                "VpcSecurityGroupIds": [{"Fn::ImportValue": "dmsctl-SecurityGroupId"}],
                "PubliclyAccessible": False,
            },
        },
        "Events": {
            "Type": "AWS::DMS::EventSubscription",
            "Properties": {"SubscriptionName": "team-a-events",
                           "SnsTopicArn": {"Fn::ImportValue": "dmsctl-AlertsTopic"},
                           "SourceType": "replication-task", "EventCategories": ["failure", "state change"],
                           "Enabled": True},
        },
    }
    outputs: dict[str, Any] = {}
    for i, (task_id, table_mappings) in enumerate(tasks.items()):
        logical = f"Task{i}"
        props: dict[str, Any] = {
            "ReplicationTaskIdentifier": task_id,
            "MigrationType": migration_type,
            "SourceEndpointArn": {"Ref": "SourceEndpoint"},
            "TargetEndpointArn": {"Fn::ImportValue": "dmsctl-LakeEndpointArn"},
            "ReplicationInstanceArn": {"Ref": "Instance"},
            "TableMappings": table_mappings,
        }
        if task_settings:
            props["ReplicationTaskSettings"] = task_settings
        resources[logical] = {"Type": "AWS::DMS::ReplicationTask", "Properties": props}
        outputs[f"{logical}Arn"] = {"Value": {"Ref": logical}}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": outputs}


def body(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1)


def with_task_prop(template: dict[str, Any], logical: str, **props: Any) -> dict[str, Any]:
    out = copy.deepcopy(template)
    for key, value in props.items():
        if value is None:
            out["Resources"][logical]["Properties"].pop(key, None)
        else:
            out["Resources"][logical]["Properties"][key] = value
    return out
