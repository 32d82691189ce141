"""Base of the sandbox's own CloudFormation resource models (AWS::DMS::*, and types moto lacks or
gets wrong): create, update in place or replace, delete, Ref and Fn::GetAtt.

moto discovers resource models as *direct* subclasses of ``CloudFormationModel``, so every
concrete class lists it as a base (after this mixin). Updates follow the registry schema: a
change to a create-only property creates a replacement (the engine deletes the old resource
during cleanup); everything else is modified in place.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from .schema import create_only_properties, read_only_properties


class CustomNamedReplacement(Exception):
    """Documented CFN rule: a custom-named resource cannot be replaced (rename it)."""


class SandboxModel:
    """Shared behaviour; subclasses set TYPE, NAME_PROPERTY and the backend hooks."""

    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""  # "": the type has no name property (CloudFormation generates ids)

    def __init__(self, account_id: str, region: str, physical_id: str, name: str, props: dict[str, Any]):
        self.account_id = account_id
        self.region = region
        self.physical_id = physical_id
        self.name = name
        self.props = props
        self.external_id = str(uuid.uuid4())

    # --- moto model protocol ---------------------------------------------------------------
    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in read_only_properties(cls.TYPE)

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def attributes(self) -> dict[str, Any]:
        """Fn::GetAtt values beyond ``Id``/``ExternalId`` (the registry schema's read-only properties)."""
        return {}

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        values = {"Id": self.physical_id, "ExternalId": self.external_id} | self.attributes()
        if attribute_name in values:
            return values[attribute_name]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> SandboxModel:
        props = dict(cloudformation_json.get("Properties") or {})
        name = (cls.NAME_PROPERTY and props.get(cls.NAME_PROPERTY)) or resource_name
        physical_id = cls._create(cls.backend(account_id, region_name), name, props)
        return cls(account_id, region_name, physical_id, name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: SandboxModel, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> SandboxModel:
        props = dict(cloudformation_json.get("Properties") or {})
        old = original_resource.props
        create_only = create_only_properties(cls.TYPE)
        if any(old.get(p) != props.get(p) for p in create_only):
            explicit = props.get(cls.NAME_PROPERTY) if cls.NAME_PROPERTY else None
            if explicit and explicit == original_resource.name:
                raise CustomNamedReplacement(
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                    f"Rename {explicit} and update the stack again."
                )
            name = explicit or new_resource_name
            physical_id = cls._create(cls.backend(account_id, region_name), name, props)
            return cls(account_id, region_name, physical_id, name, props)
        changed = {k for k in set(old) | set(props) if old.get(k) != props.get(k)}
        backend = cls.backend(account_id, region_name)
        name = (cls.NAME_PROPERTY and props.get(cls.NAME_PROPERTY)) or original_resource.name
        if changed - {"Tags"}:
            cls._update(backend, original_resource, name, props)
        if "Tags" in changed:
            cls._retag(backend, original_resource, old.get("Tags") or [], props.get("Tags") or [])
        original_resource.props = props
        original_resource.name = name
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cls._delete(cls.backend(account_id, region_name), resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete(self.backend(account_id, region_name), self.physical_id)

    # --- per-type hooks --------------------------------------------------------------------
    @classmethod
    def backend(cls, account_id: str, region: str) -> Any:
        raise NotImplementedError

    @classmethod
    def _create(cls, backend: Any, name: str, props: dict[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def _update(cls, backend: Any, resource: SandboxModel, name: str, props: dict[str, Any]) -> None:
        raise NotImplementedError

    @classmethod
    def _delete(cls, backend: Any, physical_id: str) -> None:
        raise NotImplementedError

    @classmethod
    def _retag(cls, backend: Any, resource: SandboxModel, old: list, new: list) -> None:
        """Tags-only change; the default keeps tags in the template only."""
