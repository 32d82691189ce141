"""Pull-request labels from a plan, and the acknowledgements a plan shows: each exactly when the plan says so."""

from __future__ import annotations

import dataclasses
import json

from dmsctl.deployer import plan as P
from dmsctl.deployer.labels import LABELS, plan_labels
from dmsctl.deployer.render import render_markdown, render_text
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


def test_a_no_go_plan_shows_the_entry_that_acknowledges_it() -> None:
    plan = dataclasses.replace(plans.no_go(), base_checksum="ab" * 32)
    flags = sorted({c.hint.split()[-1] for c in plan.checks if c.blocks and "acknowledge with" in c.hint})
    assert flags, "the no-go fixture has an acknowledgeable check"
    md, text = render_markdown(plan), render_text(plan)
    assert f"Plan `{plan.checksum[:12]}`" in md
    for out in (md, text):
        assert "plan: abababababab" in out and "env: staging" in out
        assert f"allow: [{', '.join(f.removeprefix('--allow-') for f in flags)}]" in out


def test_without_a_base_checksum_or_an_acknowledgeable_check_no_entry_is_offered() -> None:
    assert "acknowledgements.yaml" not in render_markdown(plans.no_go())  # made by make_plan alone
    go = dataclasses.replace(plans.one_step(), base_checksum="cd" * 32)
    assert "acknowledgements.yaml" not in render_markdown(go) + render_text(go)


def test_the_acknowledgements_a_plan_was_made_with_are_shown() -> None:
    ack = P.Acknowledgement("--allow-replace", "configs/acknowledgements.yaml:3", "ab" * 32, "moving instance")
    plan = dataclasses.replace(plans.one_step(), acknowledgements=(ack,))
    line = "--allow-replace from configs/acknowledgements.yaml:3 (moving instance)"
    assert f"- {line}" in render_markdown(plan).replace("\\", "")
    assert f"Acknowledged: {line}" in render_text(plan)
