"""The CloudFormation service role and the permissions boundary against what the compiled stacks contain.

Coverage is derived from compiled templates (the example configs of every environment, and a tree with
schedules, notifications and a task stack): every handler permission (registry schemas bundled with cfn-lint)
of every resource in them is allowed by the service role on that resource's ARN, or deliberately left out in
compiler/permissions.py EXCEPTIONS; every role carries the boundary, and the boundary allows what each role's
own policy grants. Conditions are evaluated (tests/gitops/policy.py)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from dmsctl.compiler import naming
from dmsctl.compiler import permissions as perms
from dmsctl.compiler.bootstrap import render_bootstrap
from dmsctl.compiler.build import compile_tree
from tests.compiler.test_workflow_stacks import _task, scheduled_team
from tests.gitops.policy import allowed
from tests.helpers import EXAMPLES, MINIMAL_BASE, REPO, minimal_team, write_tree

PASSED_TO = {"AWS::DMS::Endpoint": "dms.amazonaws.com", "AWS::StepFunctions::StateMachine": "states.amazonaws.com",
             "AWS::Events::Rule": "events.amazonaws.com"}
DMS_KINDS = {"AWS::DMS::Endpoint": "endpoint", "AWS::DMS::ReplicationInstance": "rep",
             "AWS::DMS::ReplicationTask": "task", "AWS::DMS::ReplicationSubnetGroup": "subgrp",
             "AWS::DMS::EventSubscription": "es"}


def _scheduled_tree(root: Path) -> Path:
    team = scheduled_team()
    team["tasks"]["late"] = _task("full-load", ["t5"], stack="extra",
                                  schedule={"expression": "cron(0 3 * * ? *)", "output": "dated"})
    team["tasks"]["side"] = _task("full-load-and-cdc", ["t6"], stack="extra")
    base = copy.deepcopy(MINIMAL_BASE) | {"github": {"repository": "acme/dms-config"}}
    return write_tree(root, base=base, teams={"alpha": team, "beta": minimal_team("beta")})


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    results = [compile_tree(EXAMPLES, env) for env in ("staging", "prod")]
    results.append(compile_tree(_scheduled_tree(tmp_path_factory.mktemp("tree")), "staging"))
    for r in results:
        assert r.ok, [str(d) for d in r.diagnostics if d.is_error]
    kinds = {r["Type"] for res in results for s in res.require_tree().stacks for r in s.template["Resources"].values()}
    assert {"AWS::StepFunctions::StateMachine", "AWS::Events::Rule", "AWS::SNS::Topic", "AWS::SNS::Subscription",
            "AWS::DMS::EventSubscription"} <= kinds, "the trees must exercise schedules and notifications"
    assert any("--" in s.name for r in results for s in r.require_tree().stacks), "and a task stack"
    return results


def _roles_referenced(node) -> bool:
    """Does a resource pass a role (GetAtt of a role, or the base stack's role export)?"""
    if isinstance(node, dict):
        if "Fn::GetAtt" in node and str(node["Fn::GetAtt"][0]).endswith("Role"):
            return True
        if "Fn::ImportValue" in node and str(node["Fn::ImportValue"]).endswith("-role-arn"):
            return True
        return any(_roles_referenced(v) for v in node.values())
    return isinstance(node, list) and any(_roles_referenced(v) for v in node)


def _topic(scope: perms.Scope, stack: str) -> str:
    team = stack.removeprefix(f"{scope.prefix}-team-").split("--")[0]
    return f"arn:aws:sns:{scope.region}:{scope.account}:{naming.events_topic(scope.prefix, team)}"


def _target(scope: perms.Scope, stack: str, lid: str, resource: dict, action: str) -> list[tuple[str, dict]]:
    """(ARN, request context) pairs one handler call of `action` for this resource is authorized against;
    empty when the handler has no reason to make it here."""
    kind, props = resource["Type"], resource.get("Properties", {})
    service, name = action.split(":")
    at = f"{scope.region}:{scope.account}"
    rule = perms.rule_for(action)
    if rule is not None and rule.how == perms.ANY:
        return [("*", {})]
    if service == "iam":
        if kind == "AWS::IAM::Role":
            arn = naming.role_arn(scope.account, f"{stack}-{lid}-AbCdEf012345")
            return [(arn, {"iam:PermissionsBoundary": props["PermissionsBoundary"]}
                     if "PermissionsBoundary" in props else {})]
        if not _roles_referenced(props):
            return []  # e.g. SNS delivery-status roles: no property of ours passes one
        arn = naming.role_arn(scope.account, f"{stack}-SomeRole-AbCdEf012345")
        return [(arn, {"iam:PassedToService": PASSED_TO[kind]})]
    if service == "dms":
        return [(f"arn:aws:dms:{at}:{DMS_KINDS.get(kind, 'endpoint')}:ABCDEFGHIJKLMNOPQRSTUVWXYZ", {})]
    if service == "states":
        return [(f"arn:aws:states:{at}:stateMachine:{props['StateMachineName']}", {})]
    if service == "events":
        return [(f"arn:aws:events:{at}:rule/{props['Name']}", {})]
    if service == "sns":
        arn = (f"arn:aws:sns:{at}:{props['TopicName']}" if kind == "AWS::SNS::Topic" else _topic(scope, stack))
        return [(arn, {})]
    if service == "dynamodb":
        return [(f"arn:aws:dynamodb:{at}:table/{props['TableName']}", {})]
    if service == "ec2":
        sg = (f"arn:aws:ec2:{at}:security-group/sg-0123456789abcdef0", {})
        return [sg, (f"arn:aws:ec2:{at}:vpc/{scope.vpc_id}", {})] if name == "CreateSecurityGroup" else [sg]
    if service == "secretsmanager":
        return [(f"arn:aws:secretsmanager:{at}:secret:dms/team/db-AbCdEf", {})]
    raise AssertionError(f"no sample ARN for {action}")


def _service_role(result) -> tuple[perms.Scope, list[dict]]:
    config = result.require_config()
    props = render_bootstrap(config)["Resources"]["CloudFormationRole"]["Properties"]
    return perms.scope_of(config), [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_every_handler_permission_of_every_compiled_resource_is_granted(compiled):
    gaps = []
    for result in compiled:
        scope, statements = _service_role(result)
        for stack in result.require_tree().stacks:
            for lid, resource in stack.template["Resources"].items():
                assert resource["Type"] in perms.RESOURCE_TYPES, f"{resource['Type']}: add it to RESOURCE_TYPES"
                for action in sorted(perms.handler_permissions(resource["Type"])):
                    rule = perms.rule_for(action)
                    if rule is not None and rule.how == perms.OMIT:
                        continue
                    for arn, context in _target(scope, stack.name, lid, resource, action):
                        if not allowed(statements, action, arn, context):
                            gaps.append(f"{stack.name} {lid} ({resource['Type']}): {action} on {arn}")
    assert gaps == []


def test_every_template_resource_type_is_derived():
    rendered = set()
    for path in (REPO / "templates").glob("*.j2"):
        if path.name != "bootstrap.yaml.j2":
            rendered |= set(re.findall(r"Type: (AWS::\w+::\w+)", path.read_text()))
    assert rendered == set(perms.RESOURCE_TYPES)


def test_every_exception_concerns_a_listed_permission():
    listed = set().union(*(perms.handler_permissions(t) for t in perms.RESOURCE_TYPES))
    for pattern, rule in perms.EXCEPTIONS.items():
        assert any(re.fullmatch(pattern.replace("*", ".*"), a) for a in listed), pattern
        assert rule.reason


def test_a_type_with_a_service_nobody_scoped_is_a_gap(compiled):
    scope, _ = _service_role(compiled[0])
    with pytest.raises(perms.PermissionGap, match="no resources of lambda are scoped"):
        perms.service_role_statements(scope, ("AWS::Lambda::Function",))


def test_every_gap_is_named_at_once_in_a_stable_order(compiled):
    scope, _ = _service_role(compiled[0])
    with pytest.raises(perms.PermissionGap) as raised:
        perms.service_role_statements(scope, ("AWS::SQS::Queue", "AWS::Lambda::Function"))
    *gaps, advice = str(raised.value).split("; ")
    assert advice == "add a rule for each to compiler/permissions.py EXCEPTIONS"
    assert gaps == sorted(gaps) and len(gaps) == len(set(gaps))
    assert any(g.startswith("lambda:") for g in gaps) and any(g.startswith("sqs:") for g in gaps)


def test_left_out_permissions_are_refused(compiled):
    scope, statements = _service_role(compiled[0])
    role = naming.role_arn(scope.account, f"{scope.prefix}-base-DataLakeRole-X")
    for action in ("iam:DeleteRolePermissionsBoundary", "kms:Decrypt", "redshift:ModifyClusterIamRoles",
                   "iam:CreateServiceLinkedRole", "s3:GetObject", "secretsmanager:GetSecretValue"):
        assert not allowed(statements, action, "*") and not allowed(statements, action, role), action


def test_every_compiled_role_carries_the_boundary_and_stays_within_it(compiled):
    for result in compiled:
        scope = perms.scope_of(result.require_config())
        boundary = perms.boundary_statements(scope)
        at = f"{scope.region}:{scope.account}"
        samples = {"dms": f"arn:aws:dms:{at}:task:ABC", "states": f"arn:aws:states:{at}:stateMachine:{scope.prefix}-x",
                   "iam": naming.role_arn(scope.account, f"{scope.prefix}-base-DatalakeRole-X"),
                   "dynamodb": scope.state_table, "sns": f"arn:aws:sns:{at}:{scope.prefix}-alpha-events"}
        for stack in result.require_tree().stacks:
            for lid, resource in stack.template["Resources"].items():
                if resource["Type"] != "AWS::IAM::Role":
                    continue
                props = resource["Properties"]
                assert props.get("PermissionsBoundary") == scope.boundary_arn, f"{stack.name} {lid}"
                for s in (s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]):
                    context = {k: str(v[0] if isinstance(v, list) else v)
                               for k, v in s.get("Condition", {}).get("StringEquals", {}).items()}
                    resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                    for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]):
                        for r in resources:
                            arn = r if isinstance(r, str) else samples[action.split(":")[0]]
                            assert allowed(boundary, action, arn, context), f"{stack.name} {lid}: {action} {arn}"
