"""The bootstrap stack of one environment: the GitHub OIDC provider and the two CI roles.

- plan role: read-only, trusted only for pull requests of base.yaml's `github.repository`;
- deploy role: what `dmsctl apply` needs, trusted only for the GitHub environment of the same name.

An admin deploys it once per environment (`dmsctl bootstrap-template --env E`); `dmsctl apply`
never does (its stack is not `<prefix>-…`, so plan ignores it, and the deploy role cannot touch it).
Pure: rendered from templates/bootstrap.yaml.j2 like every other stack.
"""

from __future__ import annotations

import json

from dmsctl.compiler import naming
from dmsctl.compiler.model import ConfigTree
from dmsctl.compiler.render import _tags, render_template

OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"


def _actions(service: str, names: str) -> list[str]:
    return [f"{service}:{name}" for name in names.split()]


CFN_READ = _actions("cloudformation", "Describe* Get* List*")
CHANGE_SETS = _actions("cloudformation", "CreateChangeSet DescribeChangeSet ExecuteChangeSet "
                       "DeleteChangeSet DeleteStack TagResource UntagResource")
TASK_CONTROL = _actions("dms", "StartReplicationTask StopReplicationTask "
                        "AddTagsToResource RemoveTagsFromResource")
# What CloudFormation does with the deploy role's credentials (apply passes it no service role).
DMS_RESOURCES = [f"dms:{verb}{what}" for verb in ("Create", "Modify", "Delete")
                 for what in ("Endpoint", "ReplicationInstance", "ReplicationTask", "ReplicationSubnetGroup")]
IAM_ROLES = _actions("iam", "CreateRole DeleteRole GetRole UpdateRole UpdateRoleDescription "
                     "UpdateAssumeRolePolicy PutRolePolicy GetRolePolicy DeleteRolePolicy "
                     "ListRolePolicies ListAttachedRolePolicies TagRole UntagRole ListRoleTags")
SECURITY_GROUP = _actions("ec2", "CreateSecurityGroup DeleteSecurityGroup AuthorizeSecurityGroupEgress "
                          "RevokeSecurityGroupEgress CreateTags DeleteTags")
STATE_TABLE = _actions("dynamodb", "CreateTable UpdateTable DescribeContinuousBackups "
                       "UpdateContinuousBackups TagResource UntagResource ListTagsOfResource "
                       "PutItem DeleteItem UpdateItem Query")


class BootstrapError(Exception):
    pass


def _allow(sid: str, actions: list[str], resources: list[str] | str, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    return statement | ({"Condition": condition} if condition else {})


def bootstrap_context(tree: ConfigTree) -> dict:
    env, prefix, repository = tree.env, tree.base.resource_prefix, tree.base.github_repository
    if not repository:
        raise BootstrapError("base.yaml has no github.repository (owner/name): the CI roles trust only that "
                             "repository")
    arn = f"{env.region}:{env.account_id}"
    # Only the stacks apply deploys and the roles they create: never the bootstrap stack or its roles.
    stacks = [f"arn:aws:cloudformation:{arn}:stack/{naming.base_stack(prefix)}/*",
              f"arn:aws:cloudformation:{arn}:stack/{naming.team_stack(prefix, '*')}/*"]
    roles = [f"arn:aws:iam::{env.account_id}:role/{naming.base_stack(prefix)}-*",
             f"arn:aws:iam::{env.account_id}:role/{naming.team_stack(prefix, '*')}-*"]
    table = f"arn:aws:dynamodb:{arn}:table/{naming.lock_table(prefix)}"
    dms = f"arn:aws:dms:{arn}:*"
    buckets = sorted({f"arn:aws:s3:::{env.datalake_bucket}", f"arn:aws:s3:::{env.artifacts_bucket}"})
    read = [_allow("DmsRead", ["dms:Describe*"], "*"),
            _allow("CloudFormationRead", CFN_READ, "*"),
            _allow("DataLakeList", ["s3:ListBucket"], f"arn:aws:s3:::{env.datalake_bucket}"),
            _allow("StateTableRead", ["dynamodb:DescribeTable", "dynamodb:GetItem"], table),
            _allow("WhoAmI", ["sts:GetCallerIdentity"], "*")]
    deploy = [_allow("ChangeSets", CHANGE_SETS, stacks),
              _allow("TaskControl", TASK_CONTROL, dms),
              _allow("StackDmsResources", DMS_RESOURCES + ["dms:ListTagsForResource"], dms),
              _allow("StackRoles", IAM_ROLES, roles),
              _allow("PassRolesToDms", ["iam:PassRole"], roles,
                     {"StringEquals": {"iam:PassedToService": "dms.amazonaws.com"}}),
              _allow("StackNetworkRead", ["ec2:Describe*", "kms:ListAliases", "kms:DescribeKey"], "*"),
              _allow("StackSecurityGroup", SECURITY_GROUP,
                     [f"arn:aws:ec2:{arn}:security-group/*", f"arn:aws:ec2:{arn}:vpc/{env.vpc_id}"]),
              _allow("StateTable", STATE_TABLE, table),
              _allow("TemplateArtifacts", ["s3:GetObject", "s3:PutObject"],
                     f"arn:aws:s3:::{env.artifacts_bucket}/_dmsctl/*"),
              _allow("ArtifactsList", ["s3:ListBucket"], buckets)]
    deny = {"Sid": "NoSecrets", "Effect": "Deny", "Action": ["secretsmanager:*"], "Resource": "*"}
    return {"env": env, "repository": repository, "oidc_host": OIDC_HOST, "audience": AUDIENCE,
            "provider_arn": f"arn:aws:iam::{env.account_id}:oidc-provider/{OIDC_HOST}",
            "plan_role": naming.github_role(prefix, "plan", env.name),
            "deploy_role": naming.github_role(prefix, "deploy", env.name),
            "read_statements": read, "deploy_statements": deploy, "deny_secrets": deny,
            "tags": _tags(tree, **{"dmsctl:stack": "bootstrap"})}


def render_bootstrap(tree: ConfigTree) -> dict:
    """The bootstrap template (a dict); RenderError for a template bug, BootstrapError for a config gap."""
    return render_template("bootstrap.yaml.j2", bootstrap_context(tree))


def bootstrap_body(tree: ConfigTree) -> str:
    return json.dumps(render_bootstrap(tree), sort_keys=True, indent=2) + "\n"
