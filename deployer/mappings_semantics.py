"""Compare TableMappings and task settings by meaning, not by bytes.

DMS hands back normalized JSON: its own key order, null-valued keys, default fields such as
"filters": [] and "parallel-load": null. Settings come back with server-side defaults filled in.
Neither is a change.
"""

from __future__ import annotations

import json
from typing import Any

# A TableMappings or ReplicationTaskSettings document: JSON text, already parsed, or absent.
Doc = str | dict[str, Any] | None

# Keys DMS adds to rules with these values when they were not given.
RULE_DEFAULTS: dict[str, object] = {"filters": [], "parallel-load": None, "load-order": None, "rule-action": None,
                 "old-value": None, "data-type": None, "before-image-def": None, "expression": None,
                 "primary-key-def": None}


def _parse(doc: Doc) -> dict[str, Any]:
    if doc is None:
        return {}
    if isinstance(doc, dict):
        return doc
    try:
        parsed = json.loads(doc)
    except ValueError:
        return {"unparseable": doc}
    return parsed if isinstance(parsed, dict) else {"unparseable": doc}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and value.isdigit():
        return value  # rule ids stay strings
    return value


def _normal_rule(rule: dict[str, Any]) -> str:
    rule = {k: v for k, v in rule.items() if not (k in RULE_DEFAULTS and v == RULE_DEFAULTS[k])}
    rule = _clean(rule)
    for key in ("rule-id", "load-order"):
        if key in rule:
            rule[key] = str(rule[key])
    return json.dumps(rule, sort_keys=True)


def normalize_mappings(doc: Doc) -> frozenset[str]:
    """A TableMappings document as an order-free set of canonical rules."""
    return frozenset(_normal_rule(r) for r in _parse(doc).get("rules", []) if isinstance(r, dict))


def mappings_equal(a: Doc, b: Doc) -> bool:
    if isinstance(a, str) and a == b:
        return True  # the common case: nothing changed, no parsing needed
    return normalize_mappings(a) == normalize_mappings(b)


def live_tables(doc: Doc) -> dict[tuple[str, str], str | None]:
    """(schema, table) -> version for every table a TableMappings document selects.

    The version is read from the table's rename rule (value "<table>/<version>"); None when the
    mapping was not written by dmsctl.
    """
    rules = [r for r in _parse(doc).get("rules", []) if isinstance(r, dict)]
    selected: dict[tuple[str, str], str | None] = {}
    for r in rules:
        if r.get("rule-type") == "selection" and r.get("rule-action") in ("include", "explicit"):
            loc = r.get("object-locator", {})
            selected[(loc.get("schema-name", ""), loc.get("table-name", ""))] = None
    for r in rules:
        if r.get("rule-type") == "transformation" and r.get("rule-target") == "table" \
                and r.get("rule-action") == "rename":
            loc = r.get("object-locator", {})
            key = (_unescape(loc.get("schema-name", "")), _unescape(loc.get("table-name", "")))
            value = str(r.get("value", ""))
            if key in selected and "/" in value:
                selected[key] = value.rsplit("/", 1)[1]
    return selected


def _unescape(name: str) -> str:
    for c in "%_[":
        name = name.replace(f"[{c}]", c)
    return name


def settings_subset(wanted: Doc, live: Doc) -> list[str]:
    """Dotted paths where `live` settings differ from `wanted` (keys DMS added are ignored)."""
    diffs: list[str] = []

    def walk(w: object, lv: object, path: tuple[str, ...]) -> None:
        if isinstance(w, dict) and isinstance(lv, dict):
            for k, v in w.items():
                if k not in lv:
                    if v not in (None, [], {}):
                        diffs.append(".".join(path + (k,)))
                else:
                    walk(v, lv[k], path + (k,))
        elif w != lv and not (w in (None, "") and lv in (None, "")):
            diffs.append(".".join(path) or "<root>")

    walk(_parse(wanted), _parse(live), ())
    return diffs
