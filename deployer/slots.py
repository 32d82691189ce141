"""P124: a plan that leaves a PostgreSQL replication slot behind says which one and how to drop it.

A slot belongs to the source database and outlives the task that read it (DMS User Guide, "Using a
PostgreSQL database as an AWS DMS source"): it keeps the database's WAL until someone drops it. A removed
CDC task leaves the endpoint's slot (`slot_name`) when no other task reads it, and a task without one
leaves the slot DMS made for it; a replaced task that continues from its predecessor's checkpoint reads
the same slot, so nothing is left. Pure: reads the deployed templates only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dmsctl.deployer import plan as P
from dmsctl.deployer.diff import _tasks_in
from dmsctl.deployer.handover import POSTGRES_ENGINES, slot_hint
from dmsctl.deployer.live import LiveState

CAPTURING = ("cdc", "full-load-and-cdc")


def _source(template: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    ref = props.get("SourceEndpointArn")
    lid = ref.get("Ref") if isinstance(ref, dict) else None
    found: dict[str, Any] = (template.get("Resources", {}).get(lid) or {}).get("Properties", {}) if lid else {}
    return found


def slot_checks(changes: tuple[P.StackChange, ...], live: LiveState) -> Iterator[P.Check]:
    for c in changes:
        old = live.stacks[c.stack].template if c.stack in live.stacks else {}
        deployed = _tasks_in(old)
        for t in c.tasks:
            if t.action not in (P.DELETE, P.REPLACE) or t.keeps_checkpoint or t.identifier not in deployed:
                continue
            props = deployed[t.identifier][1]
            source = _source(old, props)
            if props.get("MigrationType") not in CAPTURING or source.get("EngineName") not in POSTGRES_ENGINES:
                continue
            slot = (source.get("PostgreSqlSettings") or {}).get("SlotName")
            where = source.get("EndpointIdentifier", "its source")
            verb = "removed" if t.action == P.DELETE else "replaced"
            if slot and t.action == P.REPLACE:
                continue  # the new task reads the endpoint's slot too
            if slot:
                message = (f"task {t.identifier} is removed: replication slot '{slot}' at {where} stays (slots "
                           f"outlive tasks) and keeps the database's WAL; once no task reads it, drop it: "
                           f"{slot_hint(slot)}")
            else:
                message = (f"task {t.identifier} is {verb}: DMS made a replication slot for it at {where}, which "
                           "can stay behind and keep the database's WAL; look for it in pg_replication_slots "
                           f"(inactive, after the apply) and drop it: {slot_hint('<slot name>')}")
            yield P.check("P124", "warning", message, t.team, t.task)
