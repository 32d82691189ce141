"""TableMappings: which source tables a task selects and where their output goes.

Rules understood (DMS "Selection rules and actions" / "Transformation rules and actions"):
  * selection rules with rule-action include | explicit | exclude, object-locator
    schema-name/table-name with DMS wildcards ``%`` (any run), ``_`` (one character) and
    ``[_]`` (a literal underscore);
  * transformation rules rename (rule-target schema | table) -> output path segments.
Table identity is the source (schema, table).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import InvalidParameterValueException


@dataclass(frozen=True)
class TableRef:
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


@lru_cache(maxsize=1024)
def _pattern(expr: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(expr):
        if expr.startswith("[_]", i):
            out.append("_")
            i += 3
            continue
        ch = expr[i]
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def matches(expr: str, name: str) -> bool:
    return bool(_pattern(expr).match(name))


def literal_name(expr: str) -> str | None:
    """The one table name an expression denotes on its own, if any (see ASSUMPTIONS A5)."""
    if "%" in expr:
        return None
    return expr.replace("[_]", "_")


def parse(table_mappings: str | None) -> list[dict[str, Any]]:
    if not table_mappings:
        return []
    try:
        doc = json.loads(table_mappings)
    except json.JSONDecodeError as exc:
        raise InvalidParameterValueException(f"Invalid table mappings JSON: {exc}") from exc
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        raise InvalidParameterValueException("Table mappings must contain a 'rules' list")
    return rules


def _rule_order(rule: dict[str, Any]) -> tuple[int, str]:
    rid = str(rule.get("rule-id", ""))
    return (int(rid) if rid.isdigit() else 1 << 30, rid)


def selected_tables(table_mappings: str | None, catalog: list[TableRef]) -> list[TableRef]:
    """Tables selected by the mappings, in rule order. ``catalog`` = known source tables."""
    selected: dict[TableRef, None] = {}
    excluded: set[TableRef] = set()
    rules = sorted((r for r in parse(table_mappings) if r.get("rule-type") == "selection"), key=_rule_order)
    for rule in rules:
        locator = rule.get("object-locator") or {}
        schema_expr = str(locator.get("schema-name", "%"))
        table_expr = str(locator.get("table-name", "%"))
        action = rule.get("rule-action", "include")
        hits = [t for t in catalog if matches(schema_expr, t.schema) and matches(table_expr, t.table)]
        if action in ("include", "explicit"):
            schema_lit, table_lit = literal_name(schema_expr), literal_name(table_expr)
            if schema_lit is not None and table_lit is not None:
                hits.append(TableRef(schema_lit, table_lit))
            for t in hits:
                selected.setdefault(t, None)
        elif action == "exclude":
            excluded.update(hits)
    return [t for t in selected if t not in excluded]


@dataclass(frozen=True)
class OutputNames:
    schema: str
    table: str


def output_names(table_mappings: str | None, table: TableRef) -> OutputNames:
    """Schema/table names on the target after rename rules (last matching rule wins)."""
    schema_out, table_out = table.schema, table.table
    rules = sorted(
        (r for r in parse(table_mappings) if r.get("rule-type") == "transformation"), key=_rule_order
    )
    for rule in rules:
        if rule.get("rule-action") != "rename":
            continue
        locator = rule.get("object-locator") or {}
        if not matches(str(locator.get("schema-name", "%")), table.schema):
            continue
        target = rule.get("rule-target")
        if target == "schema":
            schema_out = str(rule.get("value", schema_out))
        elif target == "table" and matches(str(locator.get("table-name", "%")), table.table):
            table_out = str(rule.get("value", table_out))
    return OutputNames(schema_out, table_out)


_RULE_KEY_ORDER = ("rule-type", "rule-id", "rule-name", "object-locator", "rule-action", "rule-target", "value")


def normalize(table_mappings: str | None) -> str | None:
    """Re-serialize the mappings the way DMS hands them back (ASSUMPTIONS A9)."""
    if table_mappings is None:
        return None
    rules = []
    for rule in parse(table_mappings):
        out: dict[str, Any] = {}
        for key in _RULE_KEY_ORDER:
            if key in rule:
                out[key] = str(rule[key]) if key in ("rule-id", "rule-name") else rule[key]
        for key, value in rule.items():
            out.setdefault(key, value)
        if out.get("rule-type") == "selection":
            out.setdefault("filters", [])
        rules.append(out)
    return json.dumps({"rules": rules}, separators=(",", ":"))
