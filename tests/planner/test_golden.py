"""Golden renderings (text without colour, Markdown, JSON) of real plans made on the sandbox.

The sandbox clock starts at a fixed time and every plan is a pure function of config and live state,
so these files are byte-stable. Regenerate with `pytest tests/planner --update-golden` and review the
diff (a compiler change moves the template hashes in the steps).
"""

from __future__ import annotations

import pytest

from dmsctl.deployer.checks import Flags
from dmsctl.deployer.render import render_json, render_markdown, render_text
from tests.helpers import GOLDEN, compare_golden
from tests.planner.conftest import BUCKET, World
from tests.planner.test_scenarios import move_users_reload, remove_payments, table, tables


def demo_previous(teams):
    """The examples one revision ago (as in the demo): barcodes at its old version, legacy_portions
    running, no referral_codes. Planning the examples then reloads, pauses and adds one table each."""
    table(teams, "food", "foodsearch", "barcodes")["version"] = "v202008040000"
    table(teams, "food", "foodsearch", "legacy_portions").pop("paused")
    teams["growth"]["tasks"]["users-cdc"]["tables"] = [
        t for t in tables(teams, "growth", "users-cdc") if t["table"] != "referral_codes"]


def deployed(before):
    def setup(world: World):
        world.deploy(before)
        return world.tree()
    return setup


def empty_account(world: World):
    world.sandbox.put_s3_object(BUCKET, "README", "the lake")
    return world.tree()


def deployed_then(mutate):
    def setup(world: World):
        world.deploy()
        return world.tree(mutate)
    return setup


CASES = {
    "add-reload-pause": (deployed(demo_previous), Flags(), 2),
    "replacement-no-go": (deployed_then(move_users_reload), Flags(), 1),
    "first-deploy": (empty_account, Flags(), 2),
    "removed-team-acknowledged": (deployed_then(remove_payments), Flags(allow_delete=True), 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_plan(case: str, world: World, update_golden: bool) -> None:
    setup, flags, exit_code = CASES[case]
    cfg = setup(world)
    planned, _ = world.plan(cfg, flags)
    plan = planned.plan
    again, _ = world.plan(cfg, flags)
    assert again.plan.to_json() == plan.to_json()  # planning is deterministic
    actual = {"plan.txt": render_text(plan), "plan.md": render_markdown(plan), "plan.json": render_json(plan)}
    assert "\x1b" not in actual["plan.txt"]
    assert compare_golden(actual, GOLDEN / "plan" / case, update_golden) == []
    assert plan.exit_code() == exit_code
