"""The scratch infrastructure the checks need, made with plain boto3 (the same calls on the sandbox and AWS):
an S3 bucket, a role DMS assumes to write to it, the smallest replication instance, an S3 target endpoint
and the source endpoint, both connection-tested. Every step registers its undo with `Cleanup` first."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions

from .account import Cleanup, Infra, Source, wait_until

INSTANCE_CLASS = "dms.t3.micro"
INSTANCE_LIMIT = 3_600  # seconds an instance may take to become available / to be deleted
IAM_PROPAGATION_SECONDS = 15  # a new role is not usable at once on AWS
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _policy(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging", "s3:GetObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"}]}


class Provisioner:
    def __init__(self, session: boto3.Session, endpoint_url: str | None, cleanup: Cleanup,
                 pause: Callable[[float], None], poll_seconds: float) -> None:
        self.session, self.endpoint_url, self.cleanup = session, endpoint_url, cleanup
        self.pause, self.poll_seconds = pause, poll_seconds
        self.clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self.clients[service]

    def wait(self, what: str, probe: Callable[[], Any], done: Callable[[Any], bool], limit: float) -> Any:
        return wait_until(self.pause, self.poll_seconds, what, probe, done, limit)

    # --- S3 and IAM ---------------------------------------------------------------------------------
    def bucket(self, name: str) -> str:
        s3 = self.client("s3")
        region = self.session.region_name
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **kwargs)

        def delete() -> None:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=name, Delete={"Objects": keys})
            s3.delete_bucket(Bucket=name)

        self.cleanup.push(f"S3 bucket {name} (and its objects)", delete)
        return name

    def s3_role(self, name: str, bucket: str) -> str:
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                              Description="dmsctl conformance: DMS writes to the scratch bucket")["Role"]["Arn"]

        def delete() -> None:
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)

        self.cleanup.push(f"IAM role {name}", delete)
        iam.put_role_policy(RoleName=name, PolicyName="scratch-bucket", PolicyDocument=json.dumps(_policy(bucket)))
        self.pause(IAM_PROPAGATION_SECONDS)
        return arn

    # --- DMS ----------------------------------------------------------------------------------------
    def instance(self, identifier: str, extra: dict[str, Any]) -> str:
        dms = self.client("dms")
        arn = dms.create_replication_instance(
            ReplicationInstanceIdentifier=identifier, ReplicationInstanceClass=INSTANCE_CLASS, MultiAZ=False,
            PubliclyAccessible=False, **extra)["ReplicationInstance"]["ReplicationInstanceArn"]

        def describe() -> list[dict[str, Any]]:
            try:
                return dms.describe_replication_instances(
                    Filters=[{"Name": "replication-instance-arn", "Values": [arn]}])["ReplicationInstances"]
            except botocore.exceptions.ClientError as exc:
                if exc.response["Error"].get("Code") == "ResourceNotFoundFault":
                    return []
                raise

        def delete() -> None:
            dms.delete_replication_instance(ReplicationInstanceArn=arn)
            self.wait(f"replication instance {identifier} to be deleted", describe, lambda found: not found,
                      INSTANCE_LIMIT)

        self.cleanup.push(f"replication instance {identifier} ({arn})", delete)
        self.cleanup.push(f"tasks left on replication instance {identifier}", lambda: self.delete_tasks(arn))
        self.wait(f"replication instance {identifier} to be available", describe,
                  lambda found: bool(found) and found[0]["ReplicationInstanceStatus"] == "available", INSTANCE_LIMIT)
        return arn

    def delete_tasks(self, instance_arn: str) -> None:
        """Whatever task a check failed to delete (they delete their own): stopped, then deleted."""
        dms = self.client("dms")

        def tasks() -> list[dict[str, Any]]:
            return dms.describe_replication_tasks(
                Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}],
                WithoutSettings=True)["ReplicationTasks"]

        for task in tasks():
            if task["Status"] in ("running", "starting"):
                dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
        self.wait("tasks to stop", tasks, lambda found: all(
            t["Status"] in ("stopped", "ready", "failed", "deleting") for t in found), INSTANCE_LIMIT)
        for task in tasks():
            if task["Status"] != "deleting":
                dms.delete_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
        self.wait("tasks to be deleted", tasks, lambda found: not found, INSTANCE_LIMIT)

    def endpoint(self, identifier: str, endpoint_type: str, params: dict[str, Any]) -> str:
        dms = self.client("dms")
        arn = dms.create_endpoint(EndpointIdentifier=identifier, EndpointType=endpoint_type,
                                  **params)["Endpoint"]["EndpointArn"]
        self.cleanup.push(f"endpoint {identifier} ({arn})", lambda: dms.delete_endpoint(EndpointArn=arn))
        return arn

    def connect(self, instance_arn: str, endpoint_arn: str, what: str) -> None:
        dms = self.client("dms")
        dms.test_connection(ReplicationInstanceArn=instance_arn, EndpointArn=endpoint_arn)
        filters = [{"Name": "endpoint-arn", "Values": [endpoint_arn]},
                   {"Name": "replication-instance-arn", "Values": [instance_arn]}]
        found = self.wait(f"the connection test of the {what} endpoint",
                          lambda: dms.describe_connections(Filters=filters)["Connections"],
                          lambda c: bool(c) and c[0].get("Status") != "testing", INSTANCE_LIMIT)
        if found[0].get("Status") != "successful":
            raise RuntimeError(f"the {what} endpoint's connection test failed: "
                               f"{found[0].get('LastFailureMessage', found[0].get('Status'))}")


def provision(p: Provisioner, prefix: str, source: Source, instance_extra: dict[str, Any]) -> Infra:
    bucket = p.bucket(f"{prefix}-lake")
    role_arn = p.s3_role(f"{prefix}-dms-s3", bucket)
    instance_id = f"{prefix}-ri"
    instance_arn = p.instance(instance_id, instance_extra)
    target_arn = p.endpoint(f"{prefix}-target", "target", {"EngineName": "s3", "S3Settings": {
        "BucketName": bucket, "BucketFolder": prefix, "ServiceAccessRoleArn": role_arn}})
    source_arn = p.endpoint(f"{prefix}-source", "source", source.endpoint)
    p.connect(instance_arn, target_arn, "target")
    if source.reachable:
        p.connect(instance_arn, source_arn, "source")
    return Infra(instance_arn=instance_arn, instance_id=instance_id, source_arn=source_arn, target_arn=target_arn,
                 bucket=bucket, bucket_folder=prefix, s3_role_arn=role_arn)
