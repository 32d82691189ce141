"""A source endpoint change while its tasks run: DMS refuses to modify an endpoint a running task uses
(docs/ASSUMPTIONS.md A36), so apply stops exactly the tasks reading it, deploys, and starts them again."""

from __future__ import annotations

import pytest

from tests.e2e.apply_helpers import plan_stops, run_scenario, status

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

GROWTH_TASKS = {"dmsctl-growth-users-cdc", "dmsctl-growth-users-reload"}


def test_a_source_endpoint_change_on_running_tasks_applies_and_they_run_afterwards(harness, sandbox, tmp_path):
    def verify_full(teams):
        teams["growth"]["sources"]["usersdb"]["ssl_mode"] = "verify-full"

    plan, *_ = run_scenario(harness, sandbox, tmp_path, verify_full)
    [step] = plan.steps
    [team] = [s for s in step.stacks if s.stack == "dmsctl-team-growth"]
    running = {i for i in GROWTH_TASKS if i in team.stop}
    assert running and plan_stops(plan) == running  # only the tasks reading usersdb
    assert {s.identifier for s in team.start} == running
    [endpoint] = [e for e in sandbox.client("dms").describe_endpoints()["Endpoints"]
                  if e["EndpointType"] == "SOURCE" and "growth" in e["EndpointIdentifier"]]
    assert endpoint["SslMode"] == "verify-full" and "ServerName" not in endpoint
    sandbox.advance(60)
    assert all(status(sandbox, i) == "running" for i in running)


def test_a_server_change_is_tagged_on_the_endpoint_and_its_tasks_reconnect(harness, sandbox, tmp_path):
    """`server` is not deployed (DMS reads the host from the secret) but recorded as the endpoint's
    dmsctl:server tag: the plan shows server old -> new, and apply stops the tasks reading the source, so
    they connect again (reading the secret's host) when they start, and run."""
    def moved(teams):
        teams["growth"]["sources"]["usersdb"]["server"]["staging"] = "usersdb-2.staging.internal.acme.io"

    plan, *_ = run_scenario(harness, sandbox, tmp_path, moved)
    [step] = plan.steps
    [team] = [s for s in step.stacks if s.stack == "dmsctl-team-growth"]
    [source] = [r for s in plan.stacks if s.stack == "dmsctl-team-growth" for r in s.resources
                if r.name == "source usersdb"]
    assert [(v.path, v.old, v.new) for v in source.values] == [
        ("server", "usersdb.staging.internal.acme.io", "usersdb-2.staging.internal.acme.io")]
    running = {i for i in GROWTH_TASKS if i in team.stop}
    assert running and plan_stops(plan) == running
    dms = sandbox.client("dms")
    [endpoint] = [e for e in dms.describe_endpoints()["Endpoints"]
                  if e["EndpointType"] == "SOURCE" and "growth" in e["EndpointIdentifier"]]
    tags = {t["Key"]: t["Value"] for t in dms.list_tags_for_resource(ResourceArn=endpoint["EndpointArn"])["TagList"]}
    assert tags["dmsctl:server"] == "usersdb-2.staging.internal.acme.io" and tags["dmsctl:port"] == "3306"
    sandbox.advance(60)
    assert all(status(sandbox, i) == "running" for i in running)
