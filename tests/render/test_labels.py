"""Pull-request labels from a plan: each label exactly when the plan says what it names."""

from __future__ import annotations

import dataclasses
import json

from dmsctl.deployer import plan as P
from dmsctl.deployer.labels import LABELS, plan_labels
from tests.render import plans


def test_no_changes_is_labelled_so_and_nothing_else() -> None:
    assert plan_labels(plans.no_changes()) == ("dmsctl:no-changes",)


def test_a_reload_stops_and_reloads() -> None:
    labels = plan_labels(plans.two_step_reload())
    assert "dmsctl:reload" in labels and "dmsctl:stop" in labels
    assert "dmsctl:no-go" not in labels and "dmsctl:no-changes" not in labels


def test_a_no_go_plan_says_so() -> None:
    plan = plans.no_go()
    assert not plan.go and "dmsctl:no-go" in plan_labels(plan)


def test_a_removed_team_is_a_delete() -> None:
    assert "dmsctl:delete" in plan_labels(plans.removed_team())


def test_an_acknowledged_plan_and_drift_are_labelled() -> None:
    plan = dataclasses.replace(plans.one_step(), acknowledgements=(P.Acknowledgement("--allow-drift", "command line"),),
                               checks=(P.check("P110", "warning", "drift", acknowledged_by="--allow-drift"),))
    labels = plan_labels(plan)
    assert "dmsctl:acknowledged" in labels and "dmsctl:drift" in labels
    assert "dmsctl:acknowledged" not in plan_labels(plans.one_step())


def test_the_plan_file_carries_its_labels_outside_the_checksum() -> None:
    plan = plans.two_step_reload()
    doc = json.loads(plan.to_json())
    assert doc["labels"] == list(plan_labels(plan))
    assert all(label in LABELS for label in doc["labels"])
    assert P.plan_from_json(plan.to_json()).checksum == plan.checksum
