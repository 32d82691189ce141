"""State machine checks Step Functions makes and moto's ASL parser does not (it checks the grammar only).

Amazon States Language specification: StartAt and every Next / Default / Catch Next must name a state
of the same States object; Task, Pass, Wait, Parallel and Map states have exactly one of Next or End;
a Choice state has a non-empty Choices list. Nested Parallel branches and Map processors are checked
the same way. Failures raise InvalidDefinition with Step Functions' wording.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

PREFIX = "Invalid State Machine Definition: "


def _targets(state: dict[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    if state.get("Type") == "Choice":
        for i, rule in enumerate(state.get("Choices") or []):
            yield f"{here}/Choices[{i}]/Next", rule.get("Next")
        if "Default" in state:
            yield f"{here}/Default", state["Default"]
    elif "Next" in state:
        yield f"{here}/Next", state["Next"]
    for i, catcher in enumerate(state.get("Catch") or []):
        yield f"{here}/Catch[{i}]/Next", catcher.get("Next")


def problems(scope: dict[str, Any], path: str = "") -> Iterator[str]:
    found = scope.get("States")
    states: dict[str, Any] = found if isinstance(found, dict) else {}
    if scope.get("StartAt") not in states:
        yield f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {scope.get('StartAt')} at {path}/StartAt"
    for name, state in states.items():
        here = f"{path}/States/{name}"
        kind = state.get("Type")
        if kind == "Choice" and not state.get("Choices"):
            yield f"SCHEMA_VALIDATION_FAILED: The field 'Choices' should be non-empty at {here}"
        if kind not in ("Choice", "Succeed", "Fail") and ("Next" in state) == bool(state.get("End")):
            yield f"SCHEMA_VALIDATION_FAILED: Exactly one of 'Next' or 'End' is required at {here}"
        for where, target in _targets(state, here):
            if target not in states:
                yield f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {where}"
        for i, branch in enumerate(state.get("Branches") or []):
            yield from problems(branch, f"{here}/Branches[{i}]")
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from problems(state[key], f"{here}/{key}")


def check_definition(definition: str) -> None:
    """Raise moto's InvalidDefinition for a definition the ASL parser accepted but Step Functions refuses."""
    from moto.stepfunctions.parser.api import InvalidDefinition

    found = list(problems(json.loads(definition)))
    if found:
        raise InvalidDefinition(PREFIX + "'" + "; ".join(found) + "'")
