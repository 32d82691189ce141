"""The bootstrap stack of one environment: the GitHub OIDC provider, the CI roles, the role CloudFormation deploys
with, the permissions boundary, and the account's DMS service roles when it lacks them.

- plan role: read-only, trusted only for pull requests of base.yaml's `github.repository`;
- deploy role: change sets of the `<prefix>-` stacks, task control, the state table, template artifacts, and
  passing the CloudFormation service role, nothing else: it cannot create or change any resource itself;
- CloudFormation service role (`RoleARN` of apply's change sets): the handler permissions of every resource
  type the stacks contain (compiler/permissions.py), scoped to this prefix's resources;
- permissions boundary: carried by every role the stacks create; no role of this stack can create a role
  without it, remove it or edit it;
- `dms-vpc-role` / `dms-cloudwatch-logs-role`: account-wide, fixed names, created only when the account has
  none (parameters CreateDmsVpcRole / CreateDmsCloudWatchLogsRole; `dmsctl bootstrap-template` detects them).

An admin deploys it once per environment (`dmsctl bootstrap-template --env E`); `dmsctl apply`
never does (its stack is not `<prefix>-…`, so plan ignores it, and the deploy role cannot touch it).
Pure: rendered from templates/bootstrap.yaml.j2 like every other stack.
"""

from __future__ import annotations

import json

from dmsctl.compiler import naming
from dmsctl.compiler import permissions as perms
from dmsctl.compiler.model import ConfigTree
from dmsctl.compiler.render import _tags, render_template

OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"


def _actions(service: str, names: str) -> list[str]:
    return [f"{service}:{name}" for name in names.split()]


CFN_READ = _actions("cloudformation", "Describe* Get* List*")
CHANGE_SETS = _actions("cloudformation", "CreateChangeSet DescribeChangeSet ExecuteChangeSet "
                       "DeleteChangeSet DeleteStack TagResource UntagResource")
# ModifyReplicationTask: apply's repair of acknowledged drift (--allow-drift) sets a task's TableMappings and
# settings back to the config's, which CloudFormation does not do when its template leaves them unchanged.
TASK_CONTROL = _actions("dms", "StartReplicationTask StopReplicationTask TestConnection ModifyReplicationTask "
                        "AddTagsToResource RemoveTagsFromResource")
STATE_TABLE = _actions("dynamodb", "PutItem DeleteItem UpdateItem Query")


class BootstrapError(Exception):
    pass


def _allow(sid: str, actions: list[str], resources: list[str] | str, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    return statement | ({"Condition": condition} if condition else {})


def bootstrap_context(tree: ConfigTree, create_dms_roles: dict[str, bool] | None = None) -> dict:
    """`create_dms_roles`: DMS service role name -> whether the stack creates it (the parameter's default;
    default: both)."""
    env, prefix, repository = tree.env, tree.base.resource_prefix, tree.base.github_repository
    if not repository:
        raise BootstrapError("base.yaml has no github.repository (owner/name): the CI roles trust only that "
                             "repository")
    arn = f"{env.region}:{env.account_id}"
    scope = perms.scope_of(tree)
    # Only the stacks apply deploys: never the bootstrap stack.
    stacks = [f"arn:aws:cloudformation:{arn}:stack/{naming.base_stack(prefix)}/*",
              f"arn:aws:cloudformation:{arn}:stack/{naming.team_stack(prefix, '*')}/*"]
    table = scope.state_table
    service_role = naming.cfn_service_role(prefix, env.name)
    buckets = sorted({f"arn:aws:s3:::{env.datalake_bucket}", f"arn:aws:s3:::{env.artifacts_bucket}"})
    read = [_allow("DmsRead", ["dms:Describe*"], "*"),
            _allow("CloudFormationRead", CFN_READ, "*"),
            _allow("DataLakeList", ["s3:ListBucket"], f"arn:aws:s3:::{env.datalake_bucket}"),
            _allow("StateTableRead", ["dynamodb:DescribeTable", "dynamodb:GetItem"], table),
            _allow("DmsServiceRolesRead", ["iam:GetRole"],
                   [naming.role_arn(env.account_id, name) for name in naming.DMS_SERVICE_ROLES]),
            _allow("WhoAmI", ["sts:GetCallerIdentity"], "*")]
    deploy = [_allow("ChangeSets", CHANGE_SETS, stacks),
              _allow("TaskControl", TASK_CONTROL, f"arn:aws:dms:{arn}:*"),
              _allow("StateTable", STATE_TABLE, table),
              _allow("TemplateArtifacts", ["s3:GetObject", "s3:PutObject"],
                     f"arn:aws:s3:::{env.artifacts_bucket}/_dmsctl/*"),
              _allow("ArtifactsList", ["s3:ListBucket"], buckets),
              _allow("PassTheCloudFormationRole", ["iam:PassRole"], naming.role_arn(env.account_id, service_role),
                     {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}})]
    deny = {"Sid": "NoSecrets", "Effect": "Deny", "Action": ["secretsmanager:*"], "Resource": "*"}
    create = {name: True for name in naming.DMS_SERVICE_ROLES} | (create_dms_roles or {})
    dms_roles = [{"logical_id": logical, "name": name, "policy": policy, "parameter": f"Create{logical}",
                  "create": create[name]}
                 for (name, policy), logical in zip(naming.DMS_SERVICE_ROLES.items(),
                                                    ("DmsVpcRole", "DmsCloudWatchLogsRole"), strict=True)]
    return {"env": env, "repository": repository, "oidc_host": OIDC_HOST, "audience": AUDIENCE,
            "provider_arn": f"arn:aws:iam::{env.account_id}:oidc-provider/{OIDC_HOST}",
            "plan_role": naming.github_role(prefix, "plan", env.name),
            "deploy_role": naming.github_role(prefix, "deploy", env.name),
            "service_role": service_role, "service_statements": perms.service_role_statements(scope),
            "boundary": naming.permissions_boundary(prefix, env.name),
            "boundary_statements": perms.boundary_statements(scope),
            "guards": perms.guard_statements(scope), "dms_roles": dms_roles,
            "read_statements": read, "deploy_statements": deploy, "deny_secrets": deny,
            "tags": _tags(tree, **{"dmsctl:stack": "bootstrap"})}


def render_bootstrap(tree: ConfigTree, create_dms_roles: dict[str, bool] | None = None) -> dict:
    """The bootstrap template (a dict); RenderError for a template bug, BootstrapError for a config gap."""
    return render_template("bootstrap.yaml.j2", bootstrap_context(tree, create_dms_roles))


def bootstrap_body(tree: ConfigTree, create_dms_roles: dict[str, bool] | None = None) -> str:
    return json.dumps(render_bootstrap(tree, create_dms_roles), sort_keys=True, indent=2) + "\n"
