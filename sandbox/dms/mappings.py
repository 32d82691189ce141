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


def exact_name(expr: str) -> str | None:
    """The name an expression matches exactly when it has no wildcard at all (`[_]` is a plain `_`)."""
    rest = expr.replace("[_]", "")
    if "%" in rest or "_" in rest or "[" in rest:
        return None
    return expr.replace("[_]", "_")


def parse(table_mappings: str | None) -> list[dict[str, Any]]:
    """The rules (a fresh list; the parsed JSON is cached, so callers must not modify the rules)."""
    return list(_parse_cached(table_mappings)) if table_mappings else []


@lru_cache(maxsize=64)
def _parse_cached(table_mappings: str) -> tuple[dict[str, Any], ...]:
    return tuple(_parse(table_mappings))


def _parse(table_mappings: str) -> list[dict[str, Any]]:
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
        schema_exact, table_exact = exact_name(schema_expr), exact_name(table_expr)
        if schema_exact is not None and table_exact is not None:  # no wildcard: no need to scan the catalog
            hits = [TableRef(schema_exact, table_exact)] if action == "exclude" else []
        else:
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


@dataclass(frozen=True)
class _Renames:
    """A task's rename rules, indexed: rules without wildcards by name, the others in a list."""

    # value: the rule's "value" as written (JSON: str() of it is the new name)
    schema_exact: dict[str, tuple[tuple[int, str], object]]  # schema -> (order, value)
    table_exact: dict[tuple[str, str], tuple[tuple[int, str], object]]
    schema_wild: tuple[tuple[tuple[int, str], str, object], ...]  # (order, schema expr, value)
    table_wild: tuple[tuple[tuple[int, str], str, str, object], ...]  # (order, schema expr, table expr, value)


@lru_cache(maxsize=64)
def _renames(table_mappings: str) -> _Renames:
    schema_exact: dict[str, tuple[tuple[int, str], object]] = {}
    table_exact: dict[tuple[str, str], tuple[tuple[int, str], object]] = {}
    schema_wild: list[tuple[tuple[int, str], str, object]] = []
    table_wild: list[tuple[tuple[int, str], str, str, object]] = []
    for rule in parse(table_mappings):
        if rule.get("rule-type") != "transformation" or rule.get("rule-action") != "rename":
            continue
        order, locator = _rule_order(rule), rule.get("object-locator") or {}
        schema_expr, table_expr = str(locator.get("schema-name", "%")), str(locator.get("table-name", "%"))
        target, value = rule.get("rule-target"), rule.get("value")
        if target == "schema":
            name = exact_name(schema_expr)
            if name is None:
                schema_wild.append((order, schema_expr, value))
            elif name not in schema_exact or schema_exact[name][0] < order:
                schema_exact[name] = (order, value)
        elif target == "table":
            schema_name, table_name = exact_name(schema_expr), exact_name(table_expr)
            if schema_name is None or table_name is None:
                table_wild.append((order, schema_expr, table_expr, value))
            elif (schema_name, table_name) not in table_exact or table_exact[(schema_name, table_name)][0] < order:
                table_exact[(schema_name, table_name)] = (order, value)
    return _Renames(schema_exact, table_exact, tuple(schema_wild), tuple(table_wild))


def output_names(table_mappings: str | None, table: TableRef) -> OutputNames:
    """Schema/table names on the target after rename rules (the last matching rule, in rule order, wins)."""
    if not table_mappings:
        return OutputNames(table.schema, table.table)
    r = _renames(table_mappings)
    schema_hits = [r.schema_exact[table.schema]] if table.schema in r.schema_exact else []
    schema_hits += [(o, v) for o, s, v in r.schema_wild if matches(s, table.schema)]
    key = (table.schema, table.table)
    table_hits = [r.table_exact[key]] if key in r.table_exact else []
    table_hits += [(o, v) for o, s, t, v in r.table_wild if matches(s, table.schema) and matches(t, table.table)]
    schema_out = str(max(schema_hits)[1] if schema_hits else table.schema)
    table_out = str(max(table_hits)[1] if table_hits else table.table)
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
