"""The bootstrap stack: cfn-lint clean, a plan role that can only read, trusts that name this repository, a
deploy role that can only hand stacks to CloudFormation's role, no role that can shed or skip the permissions
boundary (conditions evaluated: tests/gitops/policy.py), and the DMS service roles only where the account
lacks them."""

from __future__ import annotations

import copy
import fnmatch
import json

import pytest
from click.testing import CliRunner

from dmsctl.compiler import naming
from dmsctl.compiler.bootstrap import bootstrap_body, render_bootstrap
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter
from dmsctl.deployer.cli import cli
from tests.gitops.policy import allowed
from tests.helpers import EXAMPLES, MINIMAL_BASE, write_tree

ENVS = ("staging", "prod")
OIDC = "token.actions.githubusercontent.com"
READ_ONLY = ("Describe", "Get", "List")


def config(env: str):
    return compile_tree(EXAMPLES, env).config


def role(template: dict, logical_id: str) -> tuple[dict, list[dict]]:
    props = template["Resources"][logical_id]["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    return trust, [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]


def actions(statements: list[dict], effect: str = "Allow") -> list[str]:
    return [a for s in statements if s["Effect"] == effect for a in s["Action"]]


@pytest.mark.parametrize("env", ENVS)
def test_cfn_lint_clean(env):
    assert Linter().findings(bootstrap_body(config(env)), config(env).env.region) == []


@pytest.mark.parametrize("env", ENVS)
def test_plan_role_only_reads(env):
    _, statements = role(render_bootstrap(config(env)), "PlanRole")
    allowed = actions(statements)
    for action in allowed:
        service, name = action.split(":")
        assert name.startswith(READ_ONLY) or action == "sts:GetCallerIdentity", action
    assert not any(a.startswith("secretsmanager:") for a in allowed)
    assert "secretsmanager:*" in actions(statements, "Deny")


@pytest.mark.parametrize("env", ENVS)
def test_trusts_are_exact(env):
    template = render_bootstrap(config(env))
    expected = {"PlanRole": "repo:acme/dms-config:pull_request",
                "DeployRole": f"repo:acme/dms-config:environment:{env}"}
    for logical_id, sub in expected.items():
        trust, _ = role(template, logical_id)
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert set(trust["Condition"]) == {"StringEquals"}, "exact match only (no StringLike wildcards)"
        assert trust["Condition"]["StringEquals"] == {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": sub}


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_can_apply_but_not_touch_the_bootstrap(env):
    cfg = config(env)
    _, statements = role(render_bootstrap(cfg), "DeployRole")
    allowed = actions(statements)
    for needed in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
                   "dms:StartReplicationTask", "dms:StopReplicationTask", "dms:AddTagsToResource",
                   "iam:PassRole", "s3:PutObject", "dynamodb:PutItem", "dynamodb:DeleteItem"):
        assert needed in allowed, needed
    prefix, account = cfg.base.resource_prefix, cfg.env.account_id
    bootstrap = f"arn:aws:cloudformation:{cfg.env.region}:{account}:stack/{naming.bootstrap_stack(prefix)}/x"
    own_role = f"arn:aws:iam::{account}:role/{naming.github_role(prefix, 'deploy', env)}"
    for s in statements:
        writes = [a for a in s["Action"] if not a.split(":")[1].startswith(READ_ONLY)]
        resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
        if s["Effect"] == "Allow" and any(a.startswith(("cloudformation:", "iam:")) for a in writes):
            assert not any(fnmatch.fnmatchcase(arn, r) for r in resources for arn in (bootstrap, own_role)), s
    (pass_role,) = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert pass_role["Resource"] == naming.role_arn(account, naming.cfn_service_role(prefix, env))
    s3_put = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in s3_put] == [f"arn:aws:s3:::{cfg.env.artifacts_bucket}/_dmsctl/*"]


def test_plan_never_sees_the_bootstrap_stack_as_its_own():
    assert not naming.bootstrap_stack("dmsctl").startswith("dmsctl-")


def test_command_prints_the_template_and_needs_the_repository(tmp_path):
    printed = CliRunner().invoke(cli, ["--config-dir", str(EXAMPLES), "bootstrap-template", "--env", "prod",
                                       "--dms-service-roles", "create"])
    assert printed.exit_code == 0 and json.loads(printed.output) == render_bootstrap(config("prod"))
    configs = write_tree(tmp_path)  # MINIMAL_BASE has no github section
    missing = CliRunner().invoke(cli, ["--config-dir", str(configs), "bootstrap-template", "--dms-service-roles",
                                       "detect"])
    assert missing.exit_code == 1 and "no github.repository" in missing.output


def test_schema_checks_the_repository(tmp_path):
    base = copy.deepcopy(MINIMAL_BASE)
    base["github"] = {"repository": "acme/dms config"}
    diags = compile_tree(write_tree(tmp_path, base=base), "staging").diagnostics
    assert [d.code for d in diags if d.is_error] == ["E104"]


CI_AND_SERVICE_ROLES = ("PlanRole", "DeployRole", "CloudFormationRole")


@pytest.mark.parametrize("env", ENVS)
def test_no_role_may_shed_skip_or_edit_the_boundary(env):
    cfg = config(env)
    template = render_bootstrap(cfg)
    prefix, account = cfg.base.resource_prefix, cfg.env.account_id
    boundary = template["Resources"]["PermissionsBoundary"]["Properties"]
    boundary_arn = naming.policy_arn(account, naming.permissions_boundary(prefix, env))
    assert boundary["ManagedPolicyName"] == naming.permissions_boundary(prefix, env)
    stack_role = naming.role_arn(account, f"{naming.team_stack(prefix, 'food')}-WorkflowRole-AbC123")
    for logical_id in CI_AND_SERVICE_ROLES:
        _, statements = role(template, logical_id)
        for arn in (stack_role, naming.role_arn(account, naming.github_role(prefix, "deploy", env))):
            assert not allowed(statements, "iam:DeleteRolePermissionsBoundary", arn,
                               {"iam:PermissionsBoundary": boundary_arn}), logical_id
            for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy",
                           "iam:PutRolePermissionsBoundary"):
                assert not allowed(statements, action, arn, {}), (logical_id, action, "without a boundary")
                assert not allowed(statements, action, arn, {"iam:PermissionsBoundary": "arn:aws:iam::"
                                   f"{account}:policy/other"}), (logical_id, action, "with another boundary")
        for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
            assert not allowed(statements, action, boundary_arn), (logical_id, action)
    _, service = role(template, "CloudFormationRole")
    assert allowed(service, "iam:CreateRole", stack_role, {"iam:PermissionsBoundary": boundary_arn})
    assert not allowed(service, "iam:CreateRole", naming.role_arn(account, naming.cfn_service_role(prefix, env)),
                       {"iam:PermissionsBoundary": boundary_arn}), "never its own or the CI roles"


@pytest.mark.parametrize("env", ENVS)
def test_the_deploy_role_acts_on_resources_only_through_cloudformation(env):
    cfg = config(env)
    template = render_bootstrap(cfg)
    _, statements = role(template, "DeployRole")
    account, region, prefix = cfg.env.account_id, cfg.env.region, cfg.base.resource_prefix
    dms = f"arn:aws:dms:{region}:{account}:rep:ABC"
    for action, arn in (("dms:CreateReplicationInstance", dms), ("dms:DeleteReplicationTask", dms),
                        ("states:CreateStateMachine", f"arn:aws:states:{region}:{account}:stateMachine:{prefix}-x"),
                        ("sns:CreateTopic", f"arn:aws:sns:{region}:{account}:{prefix}-x"),
                        ("iam:CreateRole", naming.role_arn(account, f"{prefix}-base-X"))):
        assert not allowed(statements, action, arn, {}), action
    service_role = naming.role_arn(account, naming.cfn_service_role(prefix, env))
    assert allowed(statements, "iam:PassRole", service_role, {"iam:PassedToService": "cloudformation.amazonaws.com"})
    assert not allowed(statements, "iam:PassRole", service_role, {"iam:PassedToService": "dms.amazonaws.com"})
    assert not allowed(statements, "iam:PassRole", naming.role_arn(account, f"{prefix}-base-X"),
                       {"iam:PassedToService": "cloudformation.amazonaws.com"})
    for needed in ("dms:TestConnection", "dms:StartReplicationTask"):
        assert allowed(statements, needed, dms), needed
    trust, _ = role(template, "CloudFormationRole")
    assert trust == {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"},
                     "Action": "sts:AssumeRole"}
    outputs = template["Outputs"]["CloudFormationRoleArn"]["Value"]
    assert outputs == {"Fn::GetAtt": ["CloudFormationRole", "Arn"]}


@pytest.mark.parametrize("env", ENVS)
def test_plan_role_reads_the_dms_service_roles(env):
    cfg = config(env)
    _, statements = role(render_bootstrap(cfg), "PlanRole")
    for name in ("dms-vpc-role", "dms-cloudwatch-logs-role"):
        assert allowed(statements, "iam:GetRole", naming.role_arn(cfg.env.account_id, name))
    assert not allowed(statements, "iam:GetRole", naming.role_arn(cfg.env.account_id, "admin"))


def test_dms_service_roles_are_created_only_when_absent():
    cfg = config("staging")
    template = render_bootstrap(cfg, {"dms-vpc-role": False})
    params, resources = template["Parameters"], template["Resources"]
    assert params["CreateDmsVpcRole"]["Default"] == "false"
    assert params["CreateDmsCloudWatchLogsRole"]["Default"] == "true"
    for logical_id, name, policy in (("DmsVpcRole", "dms-vpc-role", "AmazonDMSVPCManagementRole"),
                                     ("DmsCloudWatchLogsRole", "dms-cloudwatch-logs-role",
                                      "AmazonDMSCloudWatchLogsRole")):
        r = resources[logical_id]
        assert r["Condition"] == f"Create{logical_id}" and r["DeletionPolicy"] == "Retain"
        assert r["Properties"]["RoleName"] == name
        assert r["Properties"]["ManagedPolicyArns"] == [f"arn:aws:iam::aws:policy/service-role/{policy}"]
        assert template["Conditions"][f"Create{logical_id}"] == {
            "Fn::Equals": [{"Ref": f"Create{logical_id}"}, "true"]}
    assert Linter().findings(bootstrap_body(cfg, {"dms-vpc-role": False}), cfg.env.region) == []


def test_command_detects_the_dms_service_roles(sandbox_server):
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_PROFILE": None}
    args = ["--config-dir", str(EXAMPLES), "bootstrap-template", "--env", "staging", "--endpoint-url",
            sandbox_server.endpoint_url]
    present = CliRunner().invoke(cli, args, env=env)
    assert present.exit_code == 0, present.output
    params = json.loads(present.stdout)["Parameters"]
    assert (params["CreateDmsVpcRole"]["Default"], params["CreateDmsCloudWatchLogsRole"]["Default"]) == (
        "false", "false")
    assert "dms-vpc-role: present" in present.stderr
    sandbox_server.load_scenario({"account": {"dms_service_roles": False}})
    absent = json.loads(CliRunner().invoke(cli, args, env=env).stdout)["Parameters"]
    assert absent["CreateDmsVpcRole"]["Default"] == "true"


def test_command_without_credentials_asks_for_the_flag(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(cli, ["--config-dir", str(EXAMPLES), "bootstrap-template", "--env", "staging"])
    assert result.exit_code == 1
    assert "--dms-service-roles create" in result.output and "no AWS credentials" in result.output
