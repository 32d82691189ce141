"""Values DMS refuses before it creates or changes anything (docs/ASSUMPTIONS.md A56-A58).

- ReplicationTaskSettings (CreateReplicationTask, ModifyReplicationTask): a known key with a value of
  the wrong type, outside its documented range or not one of its documented values is refused with
  InvalidParameterValueException, so the task is never created or changed (A56). Unknown keys are
  ignored, as DMS ignores them. The rules are the compiler's: schemas/task-settings.schema.json.
- ReplicationInstanceClass (CreateReplicationInstance, ModifyReplicationInstance) must be a class DMS
  offers, and AllocatedStorage within 5-6144 GiB (A57, A58); the lists are those of
  schemas/team.schema.json.

`install` wraps the four DmsBackend operations, so the HTTP API and the CloudFormation handlers (which
call the backend) refuse the same values.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from dmsctl.compiler.data import schemas_dir
from dmsctl.compiler.schema_check import expected, show, validator

from .errors import InvalidParameterValueException


@cache
def _instance_rules() -> tuple[frozenset[str], int, int]:
    defs = json.loads((schemas_dir() / "team.schema.json").read_text())["$defs"]
    storage = defs["instance"]["properties"]["storage_gb"]["oneOf"][0]
    return frozenset(defs["instance_class"]["enum"]), storage["minimum"], storage["maximum"]


def check_task_settings(settings: object) -> None:
    """Refuse a ReplicationTaskSettings document with a known key of a wrong value (A56). Text that is not
    a JSON object is left to settings.normalize, which refuses it."""
    if not isinstance(settings, str) or not settings:
        return
    try:
        doc = json.loads(settings)
    except json.JSONDecodeError:
        return
    if not isinstance(doc, dict):
        return
    errors = [e for e in validator("settings").iter_errors(doc) if e.validator != "additionalProperties"]
    if not errors:
        return
    first = min(errors, key=lambda e: [str(p) for p in e.absolute_path])
    key = ".".join(str(p) for p in first.absolute_path)
    schema = first.schema if isinstance(first.schema, Mapping) else {}
    raise InvalidParameterValueException(
        f"Task Settings {key} has an invalid value {show(first.instance)}: it must be {expected(schema)}")


def check_instance(params: Mapping[str, Any]) -> None:
    """Refuse an instance class DMS does not offer (A57) and storage outside 5-6144 GiB (A58)."""
    classes, low, high = _instance_rules()
    instance_class = params.get("ReplicationInstanceClass")
    if instance_class is not None and instance_class not in classes:
        raise InvalidParameterValueException(f"Invalid ReplicationInstanceClass: {instance_class}")
    storage = params.get("AllocatedStorage")
    if storage is not None and (isinstance(storage, bool) or not isinstance(storage, int)
                                or not low <= storage <= high):
        raise InvalidParameterValueException(
            f"Invalid AllocatedStorage: {storage}; it must be from {low} to {high} GiB")


def _checked(method: Callable[..., Any], check: Callable[[Mapping[str, Any]], None]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        check(params)
        return method(self, params, *args, **kwargs)

    return wrapper


def install(backend_class: type) -> None:
    """Check the parameters of the DMS operations that take these values before they run."""
    def settings(params: Mapping[str, Any]) -> None:
        check_task_settings(params.get("ReplicationTaskSettings"))

    for name, check in (("create_replication_task", settings), ("modify_replication_task", settings),
                        ("create_replication_instance", check_instance),
                        ("modify_replication_instance", check_instance)):
        setattr(backend_class, name, _checked(getattr(backend_class, name), check))
