"""Compile a task's tables into DMS TableMappings.

Per task: one rename-schema rule per source schema, and per active table a selection rule
(rule-action "explicit": exact names, no wildcard interpretation) and a rename-table rule.
Transformation rules match names with DMS wildcards, so `%`, `_` and `[` are escaped there.

Rule ids are derived from the table's identity, not its position: adding or removing a table
never renumbers another table's rules. Ids are 9-digit numbers (as the DMS console makes) from
a SHA-256 of (rule kind, schema, table); on the rare hash collision inside one task the
later identity (in sorted order) takes the next free number, so only the colliding rule moves.
Paused tables are left out of the mapping entirely (docs/CONFIG.md: pausing and resuming).
A scheduled full-load (export) task writes through its own endpoint, whose BucketFolder already
names the team, the task and the run's date: its schemas are renamed to "<source>/<schema>" only.
"""

from __future__ import annotations

import hashlib
import json

from dmsctl.compiler import naming
from dmsctl.compiler.model import Task

ID_SPACE = 900_000_000
ID_BASE = 100_000_000


def escape_wildcards(name: str) -> str:
    """Make a name match itself literally in a DMS object-locator."""
    return "".join(f"[{c}]" if c in "%_[" else c for c in name)


def stable_rule_id(kind: str, *identity: str) -> int:
    digest = hashlib.sha256("\0".join((kind,) + identity).encode()).digest()
    return ID_BASE + int.from_bytes(digest[:8], "big") % ID_SPACE


class _Ids:
    def __init__(self) -> None:
        self.used: set[int] = set()

    def take(self, kind: str, *identity: str) -> str:
        rid = stable_rule_id(kind, *identity)
        while rid in self.used:
            rid = ID_BASE + (rid - ID_BASE + 1) % ID_SPACE
        self.used.add(rid)
        return str(rid)


def build_mappings(team: str, task: Task) -> dict:
    """The TableMappings document for one task (a dict; see `mappings_json`)."""
    tables = sorted(task.active_tables, key=lambda t: t.key)
    ids = _Ids()
    rules = []
    for schema in sorted({t.schema for t in tables}):
        rid = ids.take("rename-schema", schema)
        rules.append({
            "rule-type": "transformation", "rule-id": rid, "rule-name": rid,
            "rule-target": "schema", "rule-action": "rename",
            "object-locator": {"schema-name": escape_wildcards(schema)},
            "value": (naming.export_renamed_schema(task.source, schema) if task.is_export
                      else naming.renamed_schema(team, task.source, schema)),
        })
    for table in tables:
        sel = ids.take("selection", table.schema, table.table)
        rules.append({
            "rule-type": "selection", "rule-id": sel, "rule-name": sel, "rule-action": "explicit",
            "object-locator": {"schema-name": table.schema, "table-name": table.table},
        })
        ren = ids.take("rename-table", table.schema, table.table)
        rules.append({
            "rule-type": "transformation", "rule-id": ren, "rule-name": ren,
            "rule-target": "table", "rule-action": "rename",
            "object-locator": {"schema-name": escape_wildcards(table.schema),
                               "table-name": escape_wildcards(table.table)},
            "value": naming.renamed_table(table.table, table.version),
        })
    return {"rules": rules}


def mappings_json(mappings: dict) -> str:
    """Canonical compact JSON: what goes into the template and what is measured against 2 MB."""
    return json.dumps(mappings, sort_keys=True, separators=(",", ":"))
