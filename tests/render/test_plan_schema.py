"""The JSON plan is documented by schemas/plan.schema.json: every golden plan validates, and round-trips."""

from __future__ import annotations

import dataclasses
import json

import pytest
from jsonschema import Draft202012Validator

from dmsctl.compiler.data import schemas_dir
from dmsctl.deployer import plan as P
from dmsctl.deployer.plan import plan_from_json
from tests.helpers import GOLDEN
from tests.render import plans

GOLDEN_PLANS = sorted(GOLDEN.glob("*/*/plan.json"))


def validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "plan.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", GOLDEN_PLANS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_every_golden_plan_matches_the_schema_and_round_trips(path):
    text = path.read_text()
    assert list(validator().iter_errors(json.loads(text))) == []
    plan = plan_from_json(text)
    assert plan.to_json() == text
    assert plan.format_version == P.PLAN_FORMAT_VERSION


def test_there_are_golden_plans_of_both_kinds():
    assert {p.parent.parent.name for p in GOLDEN_PLANS} == {"plan", "render"}


def test_the_schema_names_every_field_of_the_plan_data():
    """additionalProperties is false everywhere and every field is required: a field added to the plan
    without the schema fails the golden validation above; this checks the schema has no stale field."""
    schema = json.loads((schemas_dir() / "plan.schema.json").read_text())
    classes = {c.__name__: c for c in (P.StackChange, P.TaskChange, P.TableChange, P.ResourceChange,
                                       P.ValueChange, P.Impact, P.Step, P.StackStep, P.TaskStart,
                                       P.Summary, P.Acknowledgement)}
    classes["Check"] = P.Check  # the compiler's Finding
    assert set(schema["$defs"]) == set(classes)
    for name, cls in classes.items():
        assert set(schema["$defs"][name]["properties"]) == {f.name for f in dataclasses.fields(cls)}, name
        assert schema["$defs"][name]["additionalProperties"] is False
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(P.Plan)} | {"checksum", "go", "labels"}


def test_a_plan_with_a_value_the_schema_does_not_know_is_refused():
    doc = json.loads(plans.no_go().to_json())
    doc["stacks"][0]["resources"][0]["values"][0]["secret"] = "x"
    assert list(validator().iter_errors(doc))


def test_an_older_plan_file_is_refused_with_a_reason():
    doc = json.loads(plans.one_step().to_json())
    doc.pop("format_version")
    doc["format"] = 2
    with pytest.raises(ValueError, match="plan format 2 is not 3: re-run dmsctl plan"):
        plan_from_json(json.dumps(doc))


def test_values_and_impacts_survive_the_plan_file():
    plan = plans.no_go()
    again = plan_from_json(plan.to_json())
    assert again == plan
    task = next(t for s in again.stacks for t in s.tasks if t.action == P.REPLACE)
    assert isinstance(task.impact, P.Impact) and isinstance(task.values[0], P.ValueChange)


def test_row_estimates_are_in_the_plan_file_but_not_in_its_checksum():
    """A CDC task's rows grow while the plan waits for review: apply --plan must not call it stale for that."""
    plan = plans.no_go()
    grown = dataclasses.replace(plan, stacks=tuple(dataclasses.replace(s, tasks=tuple(
        dataclasses.replace(t, impact=dataclasses.replace(t.impact, rows=(t.impact.rows or 0) + 5, estimate="more"))
        if t.impact is not None else t for t in s.tasks)) for s in plan.stacks),
        summary=dataclasses.replace(plan.summary, rows_to_reload=plan.summary.rows_to_reload + 5))
    assert grown.checksum == plan.checksum
    assert '"rows": 2500005' in grown.to_json() and plan_from_json(grown.to_json()) == grown
    changed = dataclasses.replace(plan, summary=dataclasses.replace(plan.summary, tasks_to_stop=9))
    assert changed.checksum != plan.checksum
