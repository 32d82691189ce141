"""Scenario files: seed the sandbox account with a known starting point.

```yaml
account_id: "123456789012"          # optional (default 123456789012)
region: eu-west-1                   # optional
account: {dms_service_roles: true}  # optional: false = no dms-vpc-role / dms-cloudwatch-logs-role (sandbox/account.py);
                                    # bootstrap: [[prefix, env], ...] whose CloudFormation role and boundary exist
clock: "2024-03-01T00:00:00Z"       # optional start of simulated time
config: {full_load_rows_per_second: 100}      # optional SimConfig overrides
s3:                                  # objects already in the data lake
  - bucket: datalake
    prefix: raw/app/users_v1/        # optional, joined to each key
    keys: [LOAD00000001.csv]
table_sizes:                         # "<task id>/<schema>.<table>": rows
  team-a-app/app.users: 50000
deployed:                            # what is already deployed, base stack first
  configs: ../configs                # compiled with dmsctl.compiler.build.compile_tree (see compiled_stacks)
  env: staging
  # or explicit stacks: [{name: dmsctl-base, template: base.json, parameters: {..}}]
running:                             # start deployed tasks and let their full loads finish
  exclude: [team-b-paused]           # task ids left stopped (paused)
  mid_full_load: [team-a-app/app.orders]     # tables left in the middle of their full load
slots:                               # logical replication slots at source databases (Sandbox.create_slot), first
  - {endpoint: team-a-source, slot: team_a_dms}
changes:                             # changes at source databases (Sandbox.record_changes), after `running`
  - {endpoint: team-a-source, table: app.users, at: "2024-03-01T09:00:00Z", inserts: 10, updates: 2, deletes: 1}
```
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .account import BOOTSTRAPPED, prepare_account
from .sandbox import ensure_bucket

TEMPLATE_BUCKET = "dmsctl-sandbox-templates"
BODY_LIMIT = 51_200
MID_LOAD_SECONDS = 7 * 24 * 3600  # a mid-full-load table needs this long to finish


def read_scenario(scenario: str | Path | dict[str, Any]) -> tuple[dict[str, Any], Path]:
    if isinstance(scenario, dict):
        return scenario, Path.cwd()
    path = Path(scenario)
    return yaml.safe_load(path.read_text()) or {}, path.parent


def compiled_stacks(configs_dir: Path, env: str) -> tuple[list[tuple[str, str]], set[str]]:
    """(stack name, template body) for every stack of ``env``, base first, and the ids of the
    tasks the config pauses (a scenario never starts those)."""
    from dmsctl.compiler.build import compile_tree

    result = compile_tree(configs_dir, env)
    if not result.ok:
        problems = "; ".join(f"{d.location()} {d.code}: {d.message}" for d in result.diagnostics if d.is_error)
        raise ValueError(f"scenario configs {configs_dir} do not compile: {problems}")
    tree = result.require_tree()
    paused = {t.identifier for t in tree.tasks() if t.paused}
    return [(stack.name, stack.body) for stack in tree.stacks], paused


def _explicit_stacks(entries: list[dict[str, Any]], base_dir: Path) -> list[tuple[str, str, dict[str, str]]]:
    stacks = []
    for entry in entries:
        body = entry.get("body")
        if body is None:
            body = (base_dir / entry["template"]).read_text()
        elif not isinstance(body, str):
            body = json.dumps(body)
        stacks.append((entry["name"], body, dict(entry.get("parameters") or {})))
    return stacks


def deploy_stacks(sandbox: Any, stacks: list[tuple[str, str, dict[str, str]]]) -> None:
    cfn, s3 = sandbox.client("cloudformation"), sandbox.client("s3")
    for name, body, params in stacks:
        kwargs: dict[str, Any] = {
            "StackName": name,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
        }
        if len(body.encode()) > BODY_LIMIT:
            ensure_bucket(s3, TEMPLATE_BUCKET, sandbox.region)
            s3.put_object(Bucket=TEMPLATE_BUCKET, Key=f"scenario/{name}.json", Body=body.encode())
            kwargs["TemplateURL"] = f"https://{TEMPLATE_BUCKET}.s3.amazonaws.com/scenario/{name}.json"
        else:
            kwargs["TemplateBody"] = body
        cfn.create_stack(**kwargs)
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        while status.endswith("_IN_PROGRESS"):
            sandbox.advance(5)
            status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if status != "CREATE_COMPLETE":
            events = cfn.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
            raise RuntimeError(f"scenario stack {name} ended {status}: {reasons}")


def _parse_table(spec: str) -> tuple[str, str, str]:
    task_id, _, qualified = spec.partition("/")
    schema, _, table = qualified.partition(".")
    if not (task_id and schema and table):
        raise ValueError(f"expected '<task id>/<schema>.<table>', got {spec!r}")
    return task_id, schema, table


def connect_tasks(sandbox: Any, tasks: list[dict[str, Any]]) -> None:
    """Test the (replication instance, endpoint) connections of the tasks (DescribeReplicationTasks rows)
    that have no successful test, and let the tests finish: DMS starts a task only after both of its
    connections tested successfully, and nothing but TestConnection and ModifyEndpoint runs a test."""
    dms = sandbox.client("dms")
    done = {(c["ReplicationInstanceArn"], c["EndpointArn"]) for c in _connections(dms)
            if c.get("Status") in ("successful", "testing")}
    pairs = {(t["ReplicationInstanceArn"], t[k]) for t in tasks for k in ("SourceEndpointArn", "TargetEndpointArn")}
    for instance, endpoint in sorted(pairs - done):
        dms.test_connection(ReplicationInstanceArn=instance, EndpointArn=endpoint)
    for _ in range(1_000):
        if not any(c.get("Status") == "testing" for c in _connections(dms)):
            break
        sandbox.advance(5)


def _connections(dms: Any) -> list[dict[str, Any]]:
    return [c for page in dms.get_paginator("describe_connections").paginate() for c in page["Connections"]]


def run_tasks(sandbox: Any, spec: dict[str, Any] | bool) -> None:
    spec = {} if spec is True else dict(spec or {})
    dms = sandbox.client("dms")
    tasks = dms.describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"]
    wanted = [t for t in tasks if t["ReplicationTaskIdentifier"] not in set(spec.get("exclude", []))]
    rate = sandbox.config.full_load_rows_per_second
    for spec_table in spec.get("mid_full_load", []):
        task_id, schema, table = _parse_table(spec_table)
        sandbox.set_table_size(task_id, schema, table, int(rate * MID_LOAD_SECONDS))

    def statuses() -> set[str]:
        return {t["Status"] for t in dms.describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"]}

    while "creating" in statuses():
        sandbox.advance(5)
    connect_tasks(sandbox, wanted)
    for task in wanted:
        dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                                   StartReplicationTaskType="start-replication")
    mid = {_parse_table(s) for s in spec.get("mid_full_load", [])}
    for _ in range(10_000):
        sandbox.advance(30)
        pending = False
        for task in wanted:
            stats = dms.describe_table_statistics(ReplicationTaskArn=task["ReplicationTaskArn"])["TableStatistics"]
            for table in stats:
                key = (task["ReplicationTaskIdentifier"], table["SchemaName"], table["TableName"])
                if key not in mid and table["TableState"] != "Table completed":
                    pending = True
        states = {t["Status"] for t in dms.describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"]
                  if t["ReplicationTaskArn"] in {w["ReplicationTaskArn"] for w in wanted}}
        if not pending and "starting" not in states:
            return
    raise RuntimeError("scenario tasks did not finish their full loads")


def load_scenario(sandbox: Any, scenario: str | Path | dict[str, Any]) -> None:
    doc, base_dir = read_scenario(scenario)
    if "account_id" in doc:
        sandbox.account_id = str(doc["account_id"])
        os.environ["MOTO_ACCOUNT_ID"] = sandbox.account_id
    if "region" in doc:
        sandbox.region = doc["region"]
    account = doc.get("account") or {}
    prepare_account(sandbox, bool(account.get("dms_service_roles", True)), account.get("bootstrap", BOOTSTRAPPED))
    if doc.get("config"):
        sandbox.configure(**doc["config"])
    if doc.get("clock"):
        start = doc["clock"]
        sandbox.clock.set_time(start if isinstance(start, datetime) else datetime.fromisoformat(str(start)))
    for entry in doc.get("s3") or []:
        prefix = entry.get("prefix", "")
        ensure_bucket(sandbox.client("s3"), entry["bucket"], sandbox.region)
        for key in entry.get("keys") or []:
            sandbox.put_s3_object(entry["bucket"], prefix + key, b"seeded by scenario\n")
    for spec, rows in (doc.get("table_sizes") or {}).items():
        sandbox.set_table_size(*_parse_table(spec), int(rows))
    for entry in doc.get("slots") or []:
        sandbox.create_slot(entry["endpoint"], entry["slot"])
    deployed = doc.get("deployed")
    paused: set[str] = set()
    if deployed:
        if deployed.get("stacks"):
            stacks = _explicit_stacks(deployed["stacks"], base_dir)
        else:
            pairs, paused = compiled_stacks(base_dir / deployed["configs"], deployed.get("env", "staging"))
            stacks = [(name, body, {}) for name, body in pairs]
        deploy_stacks(sandbox, stacks)
    if doc.get("running") not in (None, False):
        running = {} if doc["running"] is True else dict(doc["running"])
        running["exclude"] = sorted(set(running.get("exclude", [])) | paused)
        run_tasks(sandbox, running)
    for change in doc.get("changes") or []:
        schema, _, table = str(change["table"]).partition(".")
        counts = {k: int(change.get(k, 0)) for k in ("inserts", "updates", "deletes", "ddls", "truncates")}
        sandbox.record_changes(change["endpoint"], schema, table, at=change.get("at"), **counts)
