"""Empty account -> plan -> apply -> No changes, on the sandbox."""

from __future__ import annotations

from tests.helpers import EXAMPLES


def test_empty_account_deploys_base_then_teams_and_converges(harness, sandbox):
    sandbox.put_s3_object("acme-datalake-staging", "README", "the lake")
    planned, gw = harness.plan(EXAMPLES)
    plan = planned.plan
    assert plan.go, [c.message for c in plan.checks]
    assert plan.summary.stacks_to_create == 4 and plan.exit_code() == 2
    assert [s.stack for s in plan.steps[0].stacks][0] == "dmsctl-base"
    code, applier, progress = harness.apply(EXAMPLES)
    assert code == 0, [e.message for e in progress.events]
    again, _ = harness.plan(EXAMPLES)
    assert not again.plan.has_changes, again.plan
    # CloudFormation deploys with the bootstrap stack's service role (RoleARN of every change set)
    roles = {s["StackName"]: s.get("RoleARN") for s in sandbox.client("cloudformation").describe_stacks()["Stacks"]}
    assert roles and set(roles.values()) == {"arn:aws:iam::123456789012:role/dmsctl-cfn-staging"}, roles
    states = {t["ReplicationTaskIdentifier"]: t["Status"]
              for t in sandbox.client("dms").describe_replication_tasks()["ReplicationTasks"]}
    assert states["dmsctl-payments-ledger-cdc"] in ("ready", "stopped")  # paused task never started
    assert states["dmsctl-growth-users-cdc"] == "running"
