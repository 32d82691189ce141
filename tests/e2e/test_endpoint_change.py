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
