"""Resource-type facts read from the CloudFormation registry schemas bundled with cfn-lint.

Create-only properties (a change means replacement) and read-only properties (the
attributes Fn::GetAtt can return) come from the registry schema, never from a hand list.
"""

from __future__ import annotations

from functools import lru_cache

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

SCHEMA_REGION = "us-east-1"


def _top_level(pointers: list[str]) -> frozenset[str]:
    return frozenset(p.split("/")[2] for p in pointers if p.startswith("/properties/"))


@lru_cache(maxsize=256)
def _schema(resource_type: str) -> dict | None:
    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    except Exception:  # unknown/custom types have no registry schema
        return None


def create_only_properties(resource_type: str) -> frozenset[str]:
    schema = _schema(resource_type)
    return _top_level(schema.get("createOnlyProperties", [])) if schema else frozenset()


def read_only_properties(resource_type: str) -> frozenset[str]:
    schema = _schema(resource_type)
    return _top_level(schema.get("readOnlyProperties", [])) if schema else frozenset()
