"""The bootstrap stack: cfn-lint clean, a plan role that can only read, trusts that name this repository."""

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
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "dms.amazonaws.com"}}
    s3_put = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in s3_put] == [f"arn:aws:s3:::{cfg.env.artifacts_bucket}/_dmsctl/*"]


def test_plan_never_sees_the_bootstrap_stack_as_its_own():
    assert not naming.bootstrap_stack("dmsctl").startswith("dmsctl-")


def test_command_prints_the_template_and_needs_the_repository(tmp_path):
    printed = CliRunner().invoke(cli, ["--config-dir", str(EXAMPLES), "bootstrap-template", "--env", "prod"])
    assert printed.exit_code == 0 and json.loads(printed.output) == render_bootstrap(config("prod"))
    configs = write_tree(tmp_path)  # MINIMAL_BASE has no github section
    missing = CliRunner().invoke(cli, ["--config-dir", str(configs), "bootstrap-template"])
    assert missing.exit_code == 1 and "no github.repository" in missing.output


def test_schema_checks_the_repository(tmp_path):
    base = copy.deepcopy(MINIMAL_BASE)
    base["github"] = {"repository": "acme/dms config"}
    diags = compile_tree(write_tree(tmp_path, base=base), "staging").diagnostics
    assert [d.code for d in diags if d.is_error] == ["E104"]
