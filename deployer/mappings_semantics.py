"""Compare TableMappings and task settings by meaning, not by bytes.

DMS hands back normalized JSON: its own key order, null-valued keys, default fields such as
"filters": [] and "parallel-load": null. Settings come back enriched: server-side defaults filled
in, every log component of DMS's list in DMS's order. None of that is a change.
"""

from __future__ import annotations

import json
from functools import lru_cache
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


def _by_id(rules: object) -> dict[str, dict[str, Any]] | None:
    """Rule id -> rule; None when a rule has no id or two share one (then only the set compare is exact)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rules if isinstance(rules, list) else ():
        if not isinstance(r, dict):
            continue
        rid = r.get("rule-id")
        if rid is None or str(rid) in out:
            return None
        out[str(rid)] = r
    return out


_SET_DEFAULTS = {k: v for k, v in RULE_DEFAULTS.items() if v is not None}  # the others go with every null


def _core(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as `_normal_rule` keeps its top level (no nulls, no defaults, rule-id and load-order as
    strings), nested values as they are. `rule` itself when that is already it."""
    out = {k: v for k, v in rule.items() if v is not None} if None in rule.values() else rule
    for key, default in _SET_DEFAULTS.items():
        if key in out and out[key] == default:
            out = {k: v for k, v in out.items() if k != key}
    for key in ("rule-id", "load-order"):
        if key in out and type(out[key]) is not str:
            out = {**out, key: str(out[key])}
    return out


def _exact(a: Any, b: Any) -> bool:
    """Equal as JSON values, nested nulls ignored as `_clean` ignores them: Python's == with the types
    kept apart (true is not 1, 1 is not 1.0: their JSON texts differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        keys = {k for k, v in a.items() if v is not None}
        return keys == {k for k, v in b.items() if v is not None} and all(_exact(a[k], b[k]) for k in keys)
    if isinstance(a, list):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _parse_plain(doc: Doc) -> tuple[dict[str, Any], bool]:
    """The document parsed, and whether it is "plain": JSON text without a boolean (nor a string that
    says true or false: the test is conservative) and without a non-integer number. In plain documents
    Python's == on parsed values is JSON equality (it would take true for 1 and 1.0 for 1)."""
    if not isinstance(doc, str):
        return _parse(doc), False
    odd: list[str] = []

    def number(text: str) -> float:
        odd.append(text)
        return float(text)

    try:
        parsed = json.loads(doc, parse_float=number, parse_constant=number)
    except ValueError:
        return {"unparseable": doc}, False
    if not isinstance(parsed, dict):
        return {"unparseable": doc}, False
    return parsed, not odd and "true" not in doc and "false" not in doc


def _same_rule(a: dict[str, Any], b: dict[str, Any], plain: bool) -> bool:
    """`_normal_rule(a) == _normal_rule(b)`, without building either canonical text."""
    if plain and a == b:
        return True
    ca, cb = _core(a), _core(b)
    if plain and ca == cb:
        return True
    if ca.keys() != cb.keys():
        return False
    return all(_exact(ca[k], cb[k]) for k in ca)  # nested nulls, or not plain


def mappings_equal(a: Doc, b: Doc) -> bool:
    """Equal by meaning: the same set of canonical rules (`normalize_mappings`). Rules are paired by
    rule-id (a canonical rule carries its id, so with unique ids the two sets are equal exactly when
    every id has the same rule on both sides), and each pair is compared without canonical texts."""
    if isinstance(a, str) and a == b:
        return True  # the common case: nothing changed, no parsing needed
    (pa, plain_a), (pb, plain_b) = _parse_plain(a), _parse_plain(b)
    if plain_a and plain_b and pa == pb:
        return True  # the same JSON values, written differently (DMS re-serializes: A9)
    ia, ib = _by_id(pa.get("rules", [])), _by_id(pb.get("rules", []))
    if ia is None or ib is None:
        return normalize_mappings(pa) == normalize_mappings(pb)
    if ia.keys() != ib.keys():
        return False
    plain = plain_a and plain_b
    return all(_same_rule(ia[k], ib[k], plain) for k in ia)


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


DEFAULT_SEVERITY = "LOGGER_SEVERITY_DEFAULT"


def _components(value: object) -> dict[str, dict[str, Any]] | None:
    """Logging.LogComponents as Id -> entry without its Id; None when it is not a list of such entries."""
    if not isinstance(value, list) or not all(isinstance(c, dict) and "Id" in c for c in value):
        return None
    return {str(c["Id"]): {k: v for k, v in c.items() if k != "Id"} for c in value}


def settings_subset(wanted: Doc, live: Doc) -> list[str]:
    """Dotted paths where `live` settings differ from `wanted` by meaning (`_settings_diffs`). Two JSON
    texts are compared once per process: a plan compares every task, and tasks share a handful of
    distinct settings documents (4 pairs for 600 tasks in the 200-team benchmark)."""
    if isinstance(wanted, str) and isinstance(live, str):
        return list(_settings_texts_diffs(wanted, live))
    return _settings_diffs(wanted, live)


def clear_memo() -> None:
    """Forget the settings comparisons made so far (the benchmark times each plan from nothing)."""
    _settings_texts_diffs.cache_clear()


@lru_cache(maxsize=512)
def _settings_texts_diffs(wanted: str, live: str) -> tuple[str, ...]:
    return tuple(_settings_diffs(wanted, live))


def _settings_diffs(wanted: Doc, live: Doc) -> list[str]:
    """Dotted paths where `live` settings differ from `wanted` by meaning.

    DMS stores settings enriched (docs/ASSUMPTIONS.md A9, A40): keys nobody sent filled with server
    defaults, and every log component of its own list, in its own order. So keys only `live` has are
    ignored, and Logging.LogComponents compares by Id: each component `wanted` names must have the
    same severity in `live` (a component absent from one side is at LOGGER_SEVERITY_DEFAULT); the
    others are DMS's. A key `wanted` sets that `live` holds with another value is a difference.
    """
    diffs: list[str] = []

    def walk(w: object, lv: object, path: tuple[str, ...]) -> None:
        if isinstance(w, dict) and isinstance(lv, dict):
            for k, v in w.items():
                if k not in lv:
                    if v not in (None, [], {}):
                        diffs.append(".".join(path + (k,)))
                elif v != lv[k]:  # equal values differ in no branch below: only unequal ones are walked
                    walk(v, lv[k], path + (k,))
        elif path == ("Logging", "LogComponents") and _components(w) is not None \
                and (lv is None or _components(lv) is not None):
            ours, theirs = _components(w) or {}, _components(lv) or {}
            for ident, entry in ours.items():
                other = theirs.get(ident, {"Severity": DEFAULT_SEVERITY})
                if any(other.get(k, DEFAULT_SEVERITY if k == "Severity" else None) != v
                       for k, v in entry.items()):
                    diffs.append(f"Logging.LogComponents.{ident}")
        elif w != lv and not (w in (None, "") and lv in (None, "")):
            diffs.append(".".join(path) or "<root>")

    walk(_parse(wanted), _parse(live), ())
    return diffs
