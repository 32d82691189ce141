"""Roles CloudFormation acts with and permissions boundaries (docs/ASSUMPTIONS.md, A61, A62).

- A stack operation with a RoleARN (CreateStack, UpdateStack, CreateChangeSet, DeleteStack; and a DeleteStack
  of a stack created with one) needs a role CloudFormation can assume: it exists and trusts the service
  principal cloudformation.amazonaws.com (sts:AssumeRole). Otherwise the call fails with ValidationError
  "Role <arn> is invalid or cannot be assumed" and nothing changes.
- What a role may do (``role_allows``), for the services that act with a role the sandbox models (A77: DMS
  deleting a table's S3 files): identity policies (inline and attached), an explicit Deny first, the
  permissions boundary on top; statements with a Condition are not evaluated (they grant nothing here).
- IAM CreateRole / PutRolePermissionsBoundary (and so an AWS::IAM::Role with PermissionsBoundary) with a
  customer managed policy that does not exist fail with NoSuchEntity "Scope ARN: <arn> does not exist or is
  not attachable." AWS managed policies (arn:aws:iam::aws:policy/...) are not checked.

Installed by ``moto_patch.install`` (``install()``): ``IAMBackend.create_role`` / ``put_role_permissions_boundary``
and ``CloudFormationResponse.create_stack`` / ``update_stack`` / ``create_change_set`` / ``delete_stack``.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from typing import Any
from urllib.parse import unquote

from moto.iam.exceptions import NoSuchEntity

CLOUDFORMATION = "cloudformation.amazonaws.com"
ORIGINALS: dict[str, Any] = {}


class BoundaryNotFound(NoSuchEntity):
    error_type = "NoSuchEntity"  # what cfn/engine.py handler_message reads
    service = "Iam"


def trusts(document: str, service: str) -> bool:
    """Does the trust policy allow the service principal to assume the role?"""
    for s in _statements(document):
        principal = s.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if s.get("Effect") == "Allow" and "sts:AssumeRole" in _listed(s.get("Action")) and service in services:
            return True
    return False


def _statements(document: Any) -> list[dict]:
    doc = json.loads(unquote(document)) if isinstance(document, str) and document else (document or {})
    statements = doc.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(statement: dict, action: str, resource: str) -> bool:
    if "Condition" in statement:
        return False
    if "NotAction" in statement:
        acts = not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["NotAction"]))
    else:
        acts = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement.get("Action")))
    if "NotResource" in statement:
        return acts and not any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement["NotResource"]))
    return acts and any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("Resource")))


def _decides(documents: list[Any], action: str, resource: str) -> bool:
    """Allowed by the documents: some statement allows, none denies."""
    statements = [s for d in documents for s in _statements(d) if _matches(s, action, resource)]
    return any(s.get("Effect") == "Allow" for s in statements) and not any(
        s.get("Effect") == "Deny" for s in statements)


def _policy_document(backend: Any, arn: str) -> Any:
    """A managed policy's default version (None when the sandbox does not hold it)."""
    policy = backend.managed_policies.get(arn)
    versions = getattr(policy, "versions", None) or []
    return next((v.document for v in versions if v.is_default_version), None)


def role_allows(role_arn: str | None, action: str, resource: str) -> bool:
    """May a role (in the sandbox's IAM) do ``action`` on ``resource``? False when the role does not exist."""
    parts = (role_arn or "").split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return False
    backend = _iam(parts[4], parts[1] or "aws")
    role = next((r for r in backend.roles.values() if r.name == parts[5].split("/")[-1]), None)
    if role is None:
        return False
    documents = list(role.policies.values()) + [
        _policy_document(backend, arn) for arn in role.managed_policies]
    if not _decides(documents, action, resource):
        return False
    boundary_arn = role.permissions_boundary  # moto keeps {"PermissionsBoundaryArn": ..., ...}
    if isinstance(boundary_arn, dict):
        boundary_arn = boundary_arn.get("PermissionsBoundaryArn")
    boundary = _policy_document(backend, boundary_arn) if boundary_arn else None
    return boundary is None or _decides([boundary], action, resource)


def _iam(account_id: str, partition: str = "aws") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def check_boundary(backend: Any, boundary: str | None) -> None:
    if not boundary or boundary.split(":")[4:5] == ["aws"]:
        return
    if boundary not in backend.managed_policies:
        raise BoundaryNotFound(f"Scope ARN: {boundary} does not exist or is not attachable.")


def check_cloudformation_role(account_id: str, role_arn: str | None) -> None:
    """ValidationError unless CloudFormation can assume the role."""
    if not role_arn:
        return
    from moto.cloudformation.exceptions import ValidationError

    parts = role_arn.split(":")
    name = parts[5].split("/")[-1] if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/") else ""
    account = parts[4] if len(parts) == 6 else ""
    role = None
    if name and account:
        partition = parts[1] or "aws"
        role = next((r for r in _iam(account, partition).roles.values() if r.name == name), None)
    if role is None or not trusts(role.assume_role_policy_document, CLOUDFORMATION):
        raise ValidationError(message=f"Role {role_arn} is invalid or cannot be assumed")


def _create_role(self: Any, role_name: str, assume_role_policy_document: str, path: str,
                 permissions_boundary: str | None, *args: Any, **kwargs: Any) -> Any:
    check_boundary(self, permissions_boundary)
    return ORIGINALS["IAMBackend.create_role"](self, role_name, assume_role_policy_document, path,
                                               permissions_boundary, *args, **kwargs)


def _put_role_permissions_boundary(self: Any, role_name: str, permissions_boundary: str) -> None:
    check_boundary(self, permissions_boundary)
    ORIGINALS["IAMBackend.put_role_permissions_boundary"](self, role_name, permissions_boundary)


def _with_role_check(original: Any, stored: bool = False) -> Any:
    @functools.wraps(original)
    def method(self: Any) -> Any:
        role_arn = self._get_param("RoleARN")
        if not role_arn and stored:  # DeleteStack acts with the role the stack was created or updated with
            role_arn = _stored_role(self, self._get_param("StackName"))
        check_cloudformation_role(self.current_account, role_arn)
        return original(self)

    return method


def _stored_role(response: Any, name: str | None) -> str | None:
    if not name:
        return None
    backend = response.cloudformation_backend
    stack = backend.stacks.get(name) or next(
        (s for s in backend.stacks.values() if s.name == name and not s.status.startswith("DELETE")), None)
    return getattr(stack, "role_arn", None) if stack is not None else None


def install() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.iam.models import IAMBackend

    ORIGINALS["IAMBackend.create_role"] = IAMBackend.create_role
    ORIGINALS["IAMBackend.put_role_permissions_boundary"] = IAMBackend.put_role_permissions_boundary
    setattr(IAMBackend, "create_role", _create_role)  # noqa: B010 - a monkeypatch (mypy: method-assign)
    setattr(IAMBackend, "put_role_permissions_boundary", _put_role_permissions_boundary)  # noqa: B010
    for name in ("create_stack", "update_stack", "create_change_set", "delete_stack"):
        original = getattr(CloudFormationResponse, name)
        ORIGINALS[f"CloudFormationResponse.{name}"] = original
        setattr(CloudFormationResponse, name, _with_role_check(original, stored=name == "delete_stack"))
