"""A replaced cdc task on a PostgreSQL source hands over its checkpoint only through a replication slot
(DMS: no custom CDC start time on PostgreSQL; a native start point needs the endpoint's SlotName), and a
plan that leaves a slot behind says how to drop it (P124). Pure: hand-built live state."""

from __future__ import annotations

import copy

from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags, task_checks
from dmsctl.deployer.slots import slot_checks
from tests.deployer.livestate import deployed
from tests.deployer.test_diff import compile_docs, example_docs, plan_steps, task_change

BILLING = "dmsctl-payments-billing-cdc"  # full-load-and-cdc on billingdb (postgres)


def _to_cdc(tmp_path, slot: str | None):
    docs = example_docs()
    if slot:
        docs["payments"]["sources"]["billingdb"]["slot_name"] = slot
    before = compile_docs(tmp_path / "a", docs)
    after_docs = copy.deepcopy(docs)
    after_docs["payments"]["tasks"]["billing-cdc"]["migration_type"] = "cdc"
    after = compile_docs(tmp_path / "b", after_docs)
    state = deployed(before.tree)
    changes, steps = plan_steps(after, state)
    return changes, steps, state


def test_without_a_slot_the_replacement_says_changes_are_not_replicated(tmp_path):
    changes, steps, state = _to_cdc(tmp_path, None)
    tc = task_change(changes, BILLING)
    assert tc.action == P.REPLACE and tc.cdc_gap and not tc.keeps_checkpoint and not tc.restart_reloads_all
    starts = [s for st in steps for stack in st.stacks for s in stack.start if s.identifier == BILLING]
    assert [s.from_checkpoint for s in starts] == [False]  # no CdcStartPosition: DMS would refuse it
    [p107] = [c for c in task_checks(changes, state, Flags()) if c.code == "P107"]
    assert "NOT replicated" in p107.message and "slot_name" in p107.message
    [p119] = slot_checks(changes, state)
    assert "pg_drop_replication_slot('<slot name>')" in p119.message and p119.severity == "warning"


def test_with_a_slot_the_new_task_continues_from_the_checkpoint(tmp_path):
    changes, steps, state = _to_cdc(tmp_path, "billing_dms")
    tc = task_change(changes, BILLING)
    assert tc.keeps_checkpoint and not tc.cdc_gap
    starts = [s for st in steps for stack in st.stacks for s in stack.start if s.identifier == BILLING]
    assert [s.from_checkpoint for s in starts] == [True]
    assert list(slot_checks(changes, state)) == []  # the new task reads the same slot


def test_the_endpoint_names_the_slot_and_a_removal_says_how_to_drop_it(tmp_path):
    docs = example_docs()
    docs["payments"]["sources"]["billingdb"]["slot_name"] = "billing_dms"
    before = compile_docs(tmp_path / "a", docs)
    team = next(s for s in before.tree.stacks if s.name == "dmsctl-team-payments")
    settings = [r["Properties"].get("PostgreSqlSettings") for r in team.template["Resources"].values()
                if r["Type"] == "AWS::DMS::Endpoint"]
    assert {"SlotName": "billing_dms"}.items() <= next(s for s in settings if s).items()
    gone = copy.deepcopy(docs)
    del gone["payments"]["tasks"]["billing-cdc"]
    changes, _ = plan_steps(compile_docs(tmp_path / "b", gone), deployed(before.tree))
    [p119] = slot_checks(changes, deployed(before.tree))
    assert "SELECT pg_drop_replication_slot('billing_dms');" in p119.message
