"""P123: plan checks, read-only, that the account has the DMS service roles the bootstrap stack creates."""

from __future__ import annotations

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer import prerequisites
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.planner import make_plan
from dmsctl.sandbox.account import prepare_account
from tests.helpers import EXAMPLES


def _plan_checks(sandbox):
    result = compile_tree(EXAMPLES, "staging")
    gw = Gateway(sandbox.region, read_only=True)
    return [c for c in make_plan(result, gw).plan.checks if c.code == "P123"], gw


def test_present_roles_pass_with_two_reads(sandbox):
    checks, gw = _plan_checks(sandbox)
    assert checks == [] and gw.calls["iam:GetRole"] == 2


def test_missing_roles_block_the_plan_with_the_fix(sandbox):
    prepare_account(sandbox, dms_service_roles=False)
    checks, _ = _plan_checks(sandbox)
    by_role = {c.message.split(",")[0].rsplit(" ", 1)[1]: c for c in checks}
    assert sorted(by_role) == ["dms-cloudwatch-logs-role", "dms-vpc-role"]
    assert {c.severity for c in checks} == {"error"}
    assert "dmsctl bootstrap-template --env staging" in by_role["dms-vpc-role"].message
    assert "AmazonDMSVPCManagementRole" in by_role["dms-vpc-role"].message


class _Denied:
    def call(self, service, method, **params):
        raise AwsError("iam:GetRole failed (role x): AccessDenied: not authorized", code="AccessDenied")


def test_a_role_that_may_not_look_gets_a_warning_not_a_guess():
    checks = prerequisites.service_role_checks(_Denied(), "123456789012", "prod")  # type: ignore[arg-type]
    assert [c.severity for c in checks] == ["warning", "warning"]
    assert "redeploy the bootstrap stack" in checks[0].message
