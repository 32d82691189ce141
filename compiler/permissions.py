"""What CloudFormation may do when apply deploys the stacks, and the ceiling of every role the stacks create.

- The CloudFormation service role (bootstrap stack; apply passes it as RoleARN on every change set) is
  derived from the registry schemas cfn-lint bundles: for every resource type the templates can render,
  the `handlers.create/update/delete.permissions` of that type, each granted on this prefix's resources
  of its service. `EXCEPTIONS` is the one place where an action is left out, granted more widely, granted
  only under a condition, or added, and why (docs/ONBOARDING.md, "AWS roles", shows it too).
- The permissions boundary (a managed policy of the bootstrap stack) caps every role of the base, team and
  task stacks: what DMS, Step Functions and EventBridge do with them, nothing else. The service role can only
  create or change roles that carry it, and nobody it trusts can remove it or edit the policy.

Pure: no AWS call. tests/gitops/test_permissions.py derives the coverage from compiled templates.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache

from dmsctl.compiler import naming
from dmsctl.compiler.model import ConfigTree

SCHEMA_REGION = "us-east-1"  # the bundled schemas' handler permissions do not differ by region

# Every resource type templates/*.j2 can render (a test fails when a template renders another one).
RESOURCE_TYPES = (
    "AWS::CloudFormation::WaitConditionHandle",  # a task stack with no task left: needs no permission
    "AWS::DMS::Endpoint", "AWS::DMS::EventSubscription", "AWS::DMS::ReplicationInstance",
    "AWS::DMS::ReplicationSubnetGroup", "AWS::DMS::ReplicationTask", "AWS::DynamoDB::Table",
    "AWS::EC2::SecurityGroup", "AWS::Events::Rule", "AWS::IAM::Role", "AWS::SNS::Subscription",
    "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::StepFunctions::StateMachine",
)

# How an action is granted. PREFIX (the default, no entry needed): on this prefix's resources of its service.
OMIT = "omit"  # never granted
ACCOUNT = "account"  # on every resource of its service in the environment's account and region (see _account)
ANY = "any"  # on "*"
BOUNDARY = "boundary"  # PREFIX, only for roles that carry the permissions boundary
PASS = "pass"  # PREFIX, only when passed to one of PASSED_TO
ADD = "add"  # granted (PREFIX / ACCOUNT by its service) although no schema lists it

PASSED_TO = ("dms.amazonaws.com", "events.amazonaws.com", "states.amazonaws.com")


@dataclass(frozen=True)
class Rule:
    how: str
    reason: str
    types: tuple[str, ...] = ()  # ADD: the resource types it is added for


# The one place where the service role deviates from "each handler permission, on this prefix's resources".
# Keys are action patterns (fnmatch, case-sensitive); the most specific (longest) matching key wins.
EXCEPTIONS: dict[str, Rule] = {
    "iam:DeleteRolePermissionsBoundary": Rule(OMIT, "a role's boundary is never removed (the update handler "
                                                    "lists it for templates that drop PermissionsBoundary)"),
    "iam:CreateServiceLinkedRole": Rule(OMIT, "DynamoDB needs it only for global-table replicas and Kinesis "
                                              "streaming, which the state table does not use"),
    "iam:CreateRole": Rule(BOUNDARY, "roles exist only with the boundary"),
    "iam:PutRolePolicy": Rule(BOUNDARY, "policies only on roles with the boundary"),
    "iam:AttachRolePolicy": Rule(BOUNDARY, "policies only on roles with the boundary"),
    "iam:DetachRolePolicy": Rule(BOUNDARY, "policies only on roles with the boundary"),
    "iam:DeleteRolePolicy": Rule(BOUNDARY, "policies only on roles with the boundary"),
    "iam:PutRolePermissionsBoundary": Rule(BOUNDARY, "the only boundary a role may get is this one"),
    "iam:PassRole": Rule(PASS, "the stacks' roles go to DMS endpoints, state machines and rule targets only (the "
                               "SNS handlers list it for delivery-status roles, which the stacks do not use)"),
    "dms:*": Rule(ACCOUNT, "DMS ARNs end in identifiers DMS generates, so no name prefix can scope them"),
    "dms:Describe*": Rule(ANY, "DMS Describe calls take no resource-level permissions"),
    "ec2:*": Rule(ACCOUNT, "security group ids are generated; CreateSecurityGroup is also authorized against "
                           "the VPC, and only the environment's VPC is granted"),
    "ec2:Describe*": Rule(ANY, "EC2 Describe calls take no resource-level permissions"),
    "secretsmanager:DescribeSecret": Rule(ACCOUNT, "the endpoint handler checks the source secret, which team "
                                                   "files name; metadata only, never the value"),
    "kms:*": Rule(OMIT, "no template sets a customer managed KMS key; granting these would let CloudFormation "
                        "use any key of the account"),
    "kms:DescribeKey": Rule(ANY, "read-only; the handlers look up the default keys"),
    "kms:List*": Rule(ANY, "read-only; the handlers look up the default keys"),
    "rds:Describe*": Rule(ANY, "read-only; the endpoint handler looks up RDS sources"),
    "redshift:DescribeClusters": Rule(ANY, "read-only; the endpoint handler looks up Redshift targets"),
    "redshift:ModifyClusterIamRoles": Rule(OMIT, "only for Redshift endpoints; dmsctl's targets are S3"),
    "kinesis:*": Rule(OMIT, "the state table streams to no Kinesis stream"),
    "logs:*": Rule(OMIT, "only for DynamoDB imports from S3, which the state table does not use"),
    "s3:*": Rule(OMIT, "only for DynamoDB imports and Step Functions definitions in S3; the templates carry "
                       "definitions inline, and CloudFormation reads a TemplateURL with the caller's credentials"),
    "sns:Unsubscribe": Rule(ANY, "acts on a subscription ARN, which has no resource-level permissions"),
    "sns:*SubscriptionAttributes": Rule(ANY, "acts on a subscription ARN, which has no resource-level "
                                             "permissions"),
    "dms:CreateReplicationInstance": Rule(ADD, "the bundled schema has no handlers section for it",
                                          ("AWS::DMS::ReplicationInstance",)),
    "dms:ModifyReplicationInstance": Rule(ADD, "the bundled schema has no handlers section for it",
                                          ("AWS::DMS::ReplicationInstance",)),
    "dms:DeleteReplicationInstance": Rule(ADD, "the bundled schema has no handlers section for it",
                                          ("AWS::DMS::ReplicationInstance",)),
    "dms:DescribeReplicationInstances": Rule(ADD, "the bundled schema has no handlers section for it",
                                             ("AWS::DMS::ReplicationInstance",)),
    "dms:AddTagsToResource": Rule(ADD, "the bundled schema has no handlers section for it",
                                  ("AWS::DMS::ReplicationInstance",)),
    "dms:RemoveTagsFromResource": Rule(ADD, "the bundled schema has no handlers section for it",
                                       ("AWS::DMS::ReplicationInstance",)),
    "dms:ListTagsForResource": Rule(ADD, "the bundled schema has no handlers section for it",
                                    ("AWS::DMS::ReplicationInstance",)),
}

# Changes to the boundary policy itself: denied to every role the bootstrap stack creates.
BOUNDARY_POLICY_EDITS = ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                         "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy")


@cache
def handler_permissions(resource_type: str) -> frozenset[str]:
    """The create/update/delete handler permissions of a resource type in the registry schema cfn-lint bundles,
    plus the ADD entries for it."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema.get("handlers", {})
    listed = {a for h in ("create", "update", "delete") for a in handlers.get(h, {}).get("permissions", [])}
    return frozenset(listed | {a for a, r in EXCEPTIONS.items() if r.how == ADD and resource_type in r.types})


def rule_for(action: str) -> Rule | None:
    keys = [k for k in EXCEPTIONS if fnmatch.fnmatchcase(action, k) and EXCEPTIONS[k].how != ADD]
    return EXCEPTIONS[max(keys, key=len)] if keys else None


@dataclass(frozen=True)
class Scope:
    """This environment's ARNs for the service role and the boundary."""

    account: str
    region: str
    prefix: str
    env: str
    vpc_id: str
    datalake_bucket: str
    root_prefix: str

    @property
    def boundary_arn(self) -> str:
        return naming.policy_arn(self.account, naming.permissions_boundary(self.prefix, self.env))

    @property
    def stack_roles(self) -> list[str]:
        """The roles CloudFormation names after the base, team and task stacks (`<stack>-<logical id>-<random>`)."""
        return [naming.role_arn(self.account, f"{naming.base_stack(self.prefix)}-*"),
                naming.role_arn(self.account, f"{naming.team_stack(self.prefix, '*')}-*")]

    @property
    def state_table(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{naming.lock_table(self.prefix)}"

    def own(self, service: str) -> list[str] | None:
        """This prefix's resources of a service (None: the service has no name-scoped resources here)."""
        at = f"{self.region}:{self.account}"
        return {"iam": self.stack_roles,
                "states": [f"arn:aws:states:{at}:stateMachine:{self.prefix}-*"],
                "events": [f"arn:aws:events:{at}:rule/{self.prefix}-*"],
                "sns": [f"arn:aws:sns:{at}:{self.prefix}-*"],
                "dynamodb": [self.state_table, f"{self.state_table}/*"]}.get(service)

    def account_wide(self, service: str) -> list[str]:
        at = f"{self.region}:{self.account}"
        return {"dms": [f"arn:aws:dms:{at}:*"],
                "ec2": [f"arn:aws:ec2:{at}:security-group/*", f"arn:aws:ec2:{at}:vpc/{self.vpc_id}"],
                "secretsmanager": [f"arn:aws:secretsmanager:{at}:secret:*"]}[service]


def scope_of(tree: ConfigTree) -> Scope:
    env = tree.env
    return Scope(env.account_id, env.region, tree.base.resource_prefix, env.name, env.vpc_id, env.datalake_bucket,
                 tree.base.root_prefix)


class PermissionGap(ValueError):
    """A handler permission with no rule to grant it (a new resource type or a service without a scope)."""


def _grant(scope: Scope, action: str) -> tuple[tuple[str, ...], str] | None:
    """(resources, condition kind) for one action, None when it is left out."""
    rule = rule_for(action)
    how = rule.how if rule else "prefix"
    service = action.split(":")[0]
    if how == OMIT:
        return None
    if how == ANY:
        return ("*",), ""
    if how == ACCOUNT:
        return tuple(scope.account_wide(service)), ""
    own = scope.own(service)
    if own is None:
        raise PermissionGap(f"{action}: no resources of {service} are scoped for this prefix")
    return tuple(own), how if how in (BOUNDARY, PASS) else ""


def _condition(scope: Scope, kind: str) -> dict | None:
    if kind == BOUNDARY:
        return {"StringEquals": {"iam:PermissionsBoundary": scope.boundary_arn}}
    if kind == PASS:
        return {"StringEquals": {"iam:PassedToService": list(PASSED_TO)}}
    return None


def _statement(sid: str, effect: str, actions, resources, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": effect, "Action": sorted(actions),
                 "Resource": resources if isinstance(resources, str) else list(resources)}
    return statement | ({"Condition": condition} if condition else {})


def guard_statements(scope: Scope) -> list[dict]:
    """Denies every role of the bootstrap stack carries: no boundary removed, none missing, the policy unchanged."""
    conditioned = sorted(a for a, r in EXCEPTIONS.items() if r.how == BOUNDARY)
    return [_statement("NoBoundaryRemoval", "Deny", ["iam:DeleteRolePermissionsBoundary"], "*"),
            _statement("NoRoleWithoutBoundary", "Deny", conditioned, "*",
                       {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}}),
            _statement("NoBoundaryEdit", "Deny", BOUNDARY_POLICY_EDITS, scope.boundary_arn)]


def service_role_statements(scope: Scope, resource_types=RESOURCE_TYPES) -> list[dict]:
    """The CloudFormation service role's policy: allows derived from the handler permissions, then the guards."""
    groups: dict[tuple[tuple[str, ...], str], set[str]] = {}
    gaps: set[str] = set()
    for resource_type in resource_types:
        for action in sorted(handler_permissions(resource_type)):
            try:
                grant = _grant(scope, action)
            except PermissionGap as gap:
                gaps.add(str(gap))
                continue
            if grant is not None:
                groups.setdefault(grant, set()).add(action)
    if gaps:  # every gap at once, in a stable order (a frozenset's order changes with the hash seed)
        raise PermissionGap("; ".join(sorted(gaps)) + "; add a rule for each to compiler/permissions.py EXCEPTIONS")
    statements = []
    for (resources, kind), actions in sorted(groups.items(), key=lambda g: (sorted(g[1])[0], g[0])):
        service = sorted(actions)[0].split(":")[0].capitalize()
        label = {"": "", BOUNDARY: "WithBoundary", PASS: "Pass"}[kind]
        sid = "NoResourceLevelPermissions" if resources == ("*",) else f"{service}{label}"
        statements.append(_statement(sid, "Allow", actions, resources if resources != ("*",) else "*",
                                     _condition(scope, kind)))
    seen: dict[str, int] = {}
    for s in statements:  # Sids are unique within a policy
        seen[s["Sid"]] = seen.get(s["Sid"], 0) + 1
        if seen[s["Sid"]] > 1:
            s["Sid"] += str(seen[s["Sid"]])
    return statements + guard_statements(scope)


def boundary_statements(scope: Scope) -> list[dict]:
    """The most any role of the base, team and task stacks may do (each role's own policy grants less)."""
    at = f"{scope.region}:{scope.account}"
    bucket = f"arn:aws:s3:::{scope.datalake_bucket}"
    return [
        _statement("DataLakeWrite", "Allow", ["s3:PutObject", "s3:PutObjectTagging"],
                   f"{bucket}/{scope.root_prefix}/*"),
        _statement("DataLakeList", "Allow", ["s3:ListBucket", "s3:GetBucketLocation"], bucket),
        _statement("SourceSecrets", "Allow", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                   scope.account_wide("secretsmanager")),
        _statement("ScheduledRuns", "Allow", ["dms:StartReplicationTask", "dms:ModifyEndpoint",
                                              "dms:DescribeTableStatistics"], scope.account_wide("dms")),
        _statement("DescribeDms", "Allow", ["dms:DescribeReplicationTasks", "dms:DescribeConnections"], "*"),
        _statement("PassDataLakeRoleToDms", "Allow", ["iam:PassRole"], scope.stack_roles,
                   {"StringEquals": {"iam:PassedToService": "dms.amazonaws.com"}}),
        _statement("CheckpointsAndMetrics", "Allow", ["dynamodb:GetItem", "dynamodb:PutItem"], scope.state_table),
        _statement("StartScheduledRuns", "Allow", ["states:StartExecution"],
                   f"arn:aws:states:{at}:stateMachine:{scope.prefix}-*"),
        _statement("PublishRunFailures", "Allow", ["sns:Publish"], f"arn:aws:sns:{at}:{scope.prefix}-*"),
    ]
