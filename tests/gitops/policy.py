"""A small IAM policy evaluator for the tests: Allow/Deny statements with Action / Resource wildcards and the
condition operators the bootstrap stack uses. An explicit Deny wins; nothing allowed is denied."""

from __future__ import annotations

import fnmatch
from typing import Any


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, pairs in condition.items():
        for key, expected in pairs.items():
            actual, wanted = context.get(key), [str(v) for v in _list(expected)]
            if operator == "StringEquals":
                ok = actual is not None and actual in wanted
            elif operator == "StringNotEquals":  # a missing key is "not equal"
                ok = actual is None or actual not in wanted
            elif operator == "StringLike":
                ok = actual is not None and any(fnmatch.fnmatchcase(actual, w) for w in wanted)
            else:
                raise AssertionError(f"the test evaluator does not know {operator}")
            if not ok:
                return False
    return True


def applies(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    actions = [a.lower() for a in _list(statement["Action"])]
    return (any(fnmatch.fnmatchcase(action.lower(), a) for a in actions)
            and any(isinstance(r, str) and fnmatch.fnmatchcase(resource, r) for r in _list(statement["Resource"]))
            and _condition_holds(statement.get("Condition", {}), context))


def allowed(statements: list[dict], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    matching = [s for s in statements if applies(s, action, resource, context or {})]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)
