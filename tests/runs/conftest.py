"""Scheduled runs on the in-process sandbox.

The config (team `shop`) has three scheduled tasks and one continuous one. Its DMS objects (instance,
source endpoint, the export endpoint, an S3 target, the tasks with their compiled mappings) and the
state table are created through the sandbox's AWS APIs, not by `dmsctl apply`: until the compiler
emits `schedule` (and the export endpoint), apply would start these tasks as continuous/one-time ones.

Once the compiler emits `schedule`/`cdc_start_time`, `config_tree` writes them into the YAML (it tries
that first) and the fallbacks below (`RunTarget` fields, `schedule_of` patch) are no longer used; to
deploy with the real deployer instead, replace `RunWorld.deploy` by `harness.apply(cfg)`.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.cli import run_cmd
from dmsctl.deployer.cli.main import cli
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import NullSink, Progress
from dmsctl.deployer.runs import RunTarget, Schedule
from dmsctl.deployer.runs import model as runs_model
from tests.e2e.conftest import shared_botocore_loader  # noqa: F401  (fixture)
from tests.helpers import MINIMAL_BASE, write_tree

TEAM = "shop"
BUCKET = MINIMAL_BASE["environments"]["staging"]["datalake_bucket"]
CDC_START = "2024-01-01T00:00:00Z"
SCHEDULES = {
    "orders-export": {"expression": "cron(0 2 * * ? *)", "output": "dated"},
    "payments-cdc": {"expression": "rate(6 hours)"},
    "items-sync": {"expression": "rate(6 hours)"},
}
CDC_START_TIMES = {"payments-cdc": CDC_START}
TABLES = {
    "orders-export": [("shop", "orders"), ("shop", "customers")],
    "payments-cdc": [("shop", "payments"), ("shop", "refunds")],
    "items-sync": [("shop", "items")],
    "audit": [("shop", "audit")],
}
MIGRATION = {"orders-export": "full-load", "payments-cdc": "cdc", "items-sync": "full-load-and-cdc",
             "audit": "full-load-and-cdc"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def team_doc(with_schedule: bool) -> dict:
    tasks = {}
    for name, tables in TABLES.items():
        task = {"source": "db", "instance": "main", "target": "s3-10min", "migration_type": MIGRATION[name],
                "tables": [{"schema": s, "table": t, "version": "v202401010000"} for s, t in tables]}
        if with_schedule and name in SCHEDULES:
            task["schedule"] = dict(SCHEDULES[name])
            if name in CDC_START_TIMES:
                task["cdc_start_time"] = CDC_START_TIMES[name]
        tasks[name] = task
    return {"team": TEAM, "owners": ["@acme/shop"],
            "sources": {"db": {"engine": "mysql", "server": "db.internal", "secret_id": "dms/shop/db"}},
            "instances": {"main": {"class": "dms.t3.medium", "storage_gb": 50}}, "tasks": tasks}


def config_tree(root: Path) -> tuple[Path, bool]:
    """The config on disk; True when the compiler accepted and emitted the schedule fields."""
    cfg = write_tree(root, base=copy.deepcopy(MINIMAL_BASE), teams={TEAM: team_doc(True)})
    result = compile_tree(cfg, "staging")
    if result.ok and any(getattr(t, "schedule", None) is not None for t in result.tree.tasks()):
        return cfg, True
    cfg = write_tree(root, base=copy.deepcopy(MINIMAL_BASE), teams={TEAM: team_doc(False)})
    return cfg, False


class RunWorld:
    """The config, its compiled names, and the sandbox objects a run needs."""

    def __init__(self, sandbox, root: Path, monkeypatch):
        self.sandbox = sandbox
        self.cfg, self.emitted = config_tree(root)
        self.result = compile_tree(self.cfg, "staging")
        assert self.result.ok, [str(d) for d in self.result.diagnostics]
        if not self.emitted:  # the compiler does not emit schedule yet: the runner sees it anyway
            def schedule_of(task):
                raw = SCHEDULES.get(task.name) if task.team == TEAM else None
                return Schedule(raw["expression"], raw.get("output")) if raw else None

            def cdc_start_time_of(task):
                return CDC_START_TIMES.get(task.name) if task.team == TEAM else None

            monkeypatch.setattr(runs_model, "schedule_of", schedule_of)
            monkeypatch.setattr(runs_model, "cdc_start_time_of", cdc_start_time_of)

    # -- names -----------------------------------------------------------------------------------
    def target(self, name: str, **changes) -> RunTarget:
        target = RunTarget.from_compiled(self.result, f"{TEAM}/{name}")
        return dataclasses.replace(target, **changes) if changes else target

    def task_id(self, name: str) -> str:
        return self.target(name).task_id

    # -- AWS -------------------------------------------------------------------------------------
    def gateway(self, **kw) -> Gateway:
        clock = self.sandbox.clock
        options = dict(read_only=False, endpoint_url=self.sandbox.endpoint_url, sleep=clock.sleep,
                       monotonic=lambda: clock.now().timestamp(), max_attempts=4)
        return Gateway(self.sandbox.region, **{**options, **kw})

    def progress(self) -> Progress:
        return Progress(sink=NullSink(), monotonic=lambda: self.sandbox.clock.now().timestamp())

    def deploy(self) -> None:
        """Bucket, state table, and the DMS objects of the config's tasks; settled (created, tested)."""
        sb = self.sandbox
        sb.put_s3_object(BUCKET, "README", "the lake")
        any_target = self.target("orders-export")
        sb.client("dynamodb").create_table(
            TableName=any_target.state_table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        dms = sb.client("dms")
        prefix = any_target.resource_prefix
        instance = dms.create_replication_instance(ReplicationInstanceIdentifier=f"{prefix}-{TEAM}-main",
                                                   ReplicationInstanceClass="dms.t3.medium")
        instance_arn = instance["ReplicationInstance"]["ReplicationInstanceArn"]
        source = dms.create_endpoint(EndpointIdentifier=f"{prefix}-{TEAM}-src-db", EndpointType="source",
                                     EngineName="mysql", ServerName="db.internal", Port=3306, Username="dms",
                                     Password="secret")["Endpoint"]["EndpointArn"]
        role = f"arn:aws:iam::{sb.account_id}:role/{prefix}-dms-s3"
        export = dms.create_endpoint(
            EndpointIdentifier=any_target.export_endpoint_id, EndpointType="target", EngineName="s3",
            S3Settings={"BucketName": BUCKET, "BucketFolder": "replication/shop/export/orders-export",
                        "ServiceAccessRoleArn": role, "DataFormat": "parquet", "CompressionType": "GZIP"},
        )["Endpoint"]["EndpointArn"]
        lake = dms.create_endpoint(
            EndpointIdentifier=f"{prefix}-target-s3-10min", EndpointType="target", EngineName="s3",
            S3Settings={"BucketName": BUCKET, "BucketFolder": any_target.root_prefix,
                        "ServiceAccessRoleArn": role, "DataFormat": "parquet"},
        )["Endpoint"]["EndpointArn"]
        for task in self.result.tree.tasks():
            dms.create_replication_task(
                ReplicationTaskIdentifier=task.identifier, SourceEndpointArn=source,
                TargetEndpointArn=export if task.name == "orders-export" else lake,
                ReplicationInstanceArn=instance_arn, MigrationType=task.migration_type,
                TableMappings=task.mappings, ReplicationTaskSettings=task.settings)
        sb.advance(60)  # tasks created, connection tests done

    # -- observing ----------------------------------------------------------------------------------
    def task(self, name: str) -> dict:
        rows = self.sandbox.client("dms").describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [self.task_id(name)]}],
            WithoutSettings=True)["ReplicationTasks"]
        return rows[0]

    def export_endpoint(self) -> dict:
        return self.sandbox.client("dms").describe_endpoints(
            Filters=[{"Name": "endpoint-id", "Values": [self.target("orders-export").export_endpoint_id]}]
        )["Endpoints"][0]

    def keys(self, prefix: str) -> list[str]:
        return sorted(self.sandbox.s3_keys(BUCKET, prefix))

    def mutations_since(self, mark: int) -> list:
        return [c for c in self.sandbox.calls.since(mark) if c.mutating]


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch, shared_botocore_loader):  # noqa: F811
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    w = RunWorld(sandbox, tmp_path, monkeypatch)
    w.deploy()
    return w


@pytest.fixture
def dmsctl(world, monkeypatch):
    """`dmsctl <command> --config-dir <the world's config> ...` -> click Result. As in tests/e2e/test_apply_cli.py,
    only the gateway's waits are moved onto the sandbox clock."""
    clock = world.sandbox.clock

    def sim_gateway(region, *, read_only, endpoint_url, profile, max_attempts):
        assert endpoint_url is None  # the in-process sandbox needs none
        return Gateway(region, read_only=read_only, endpoint_url=endpoint_url, profile=profile,
                       max_attempts=max_attempts, sleep=clock.sleep, monotonic=lambda: clock.now().timestamp())

    monkeypatch.setattr(run_cmd, "gateway", sim_gateway)

    def invoke(*args):
        return CliRunner().invoke(cli, ["--config-dir", str(world.cfg), *args])

    return invoke
