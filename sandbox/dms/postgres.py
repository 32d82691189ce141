"""What a PostgreSQL source allows as a CDC start (DMS User Guide, "Using a PostgreSQL database as an AWS
DMS source" and "Determining a CDC native start point"; API PostgreSQLSettings SlotName).

PostgreSQL cannot map a time to a log position: CdcStartTime (or a date CdcStartPosition) is refused
(A37). A native start point (a checkpoint) needs the source endpoint's SlotName to name a logical
replication slot that exists at the source database (A38); slots belong to the database and outlive
tasks (A39).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterCombinationException, InvalidParameterValueException

if TYPE_CHECKING:
    from ..world import World
    from .resources import Endpoint

POSTGRES_ENGINES = ("postgres", "aurora-postgresql")


def is_postgres(endpoint: Endpoint | None) -> bool:
    return endpoint is not None and endpoint.engine_name in POSTGRES_ENGINES


def slot_name(endpoint: Endpoint) -> str | None:
    settings = endpoint.properties.get("PostgreSQLSettings") or {}
    name = settings.get("SlotName")
    return str(name) if name else None


def check_start(world: World, source: Endpoint | None, params: dict[str, Any], position: str | None) -> None:
    """Refuse a CDC start a PostgreSQL source does not support. `position`: the CdcStartPosition the task
    would start from (given or stored), `params`: the request (CdcStartTime as given)."""
    if not is_postgres(source):
        return
    assert source is not None
    if params.get("CdcStartTime") is not None or (position and not position.startswith("checkpoint:")):
        raise InvalidParameterCombinationException(
            f"PostgreSQL as a source doesn't support a custom CDC start time (source endpoint {source.identifier}): "
            "start from a native start point (a checkpoint, with the endpoint's SlotName) or without a position"
        )
    if not position:
        return
    slot = slot_name(source)
    if slot is None:
        raise InvalidParameterCombinationException(
            f"CdcStartPosition on a PostgreSQL source needs a logical replication slot: set PostgreSQLSettings "
            f"SlotName on source endpoint {source.identifier} to an existing slot"
        )
    if not world.has_slot(source.identifier, slot):
        raise InvalidParameterValueException(
            f"Replication slot \"{slot}\" named by source endpoint {source.identifier} does not exist"
        )
