"""Golden renderings (text without colour, Markdown, JSON) of real plans made on the sandbox.

The sandbox clock starts at a fixed time and every plan is a pure function of config and live state,
so these files are byte-stable. Regenerate with `pytest tests/planner --update-golden` and review the
diff (a compiler change moves the template hashes in the steps).
"""

from __future__ import annotations

import pytest

from dmsctl.deployer.checks import Flags
from dmsctl.deployer.plan import ValueChange, plan_from_json
from dmsctl.deployer.render import render_json, render_markdown, render_text
from tests.helpers import GOLDEN, compare_golden
from tests.planner.conftest import BUCKET, World
from tests.planner.test_scenarios import NEW, move_users_reload, remove_payments, table, tables


def demo_previous(teams):
    """The examples one revision ago (as in the demo): barcodes at its old version, legacy_portions
    running, no referral_codes. Planning the examples then reloads, pauses and adds one table each."""
    table(teams, "food", "foodsearch", "barcodes")["version"] = "v202008040000"
    table(teams, "food", "foodsearch", "legacy_portions").pop("paused")
    teams["growth"]["tasks"]["users-cdc"]["tables"] = [
        t for t in tables(teams, "growth", "users-cdc") if t["table"] != "referral_codes"]


def reviewed_values(teams):
    """One change of each kind a reviewer must see the values of: an instance class (growth-main), a task
    setting (foodsearch), an endpoint setting (usersdb's ssl_mode) and its server (not deployed: DMS reads the
    host from the secret; recorded as the endpoint's dmsctl:server tag), a table added (users-cdc) and a table
    reloaded (foodsearch.foods)."""
    teams["growth"]["instances"]["growth-main"]["class"]["staging"] = "dms.r5.large"
    teams["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 90
    teams["growth"]["sources"]["usersdb"]["ssl_mode"] = "none"
    teams["growth"]["sources"]["usersdb"]["server"]["staging"] = "usersdb-2.staging.internal.acme.io"
    tables(teams, "growth", "users-cdc").append({"schema": "users", "table": "devices", "version": NEW})
    table(teams, "food", "foodsearch", "foods")["version"] = NEW


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
    "reviewed-values": (deployed_then(reviewed_values), Flags(), 2),
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


def test_the_reviewed_values_plan_shows_old_and_new_in_config_names_in_every_format() -> None:
    """The scenario the values exist for, as committed (the golden test above keeps the files current)."""
    folder = GOLDEN / "plan" / "reviewed-values"
    text, markdown = (folder / "plan.txt").read_text(), (folder / "plan.md").read_text()
    for line in ("~ instance growth-main (InstanceGrowthMain, AWS::DMS::ReplicationInstance): update",
                 "~ class: dms.t3.medium -> dms.r5.large",
                 "~ settings.ChangeProcessingTuning.BatchApplyTimeoutMax: 60 -> 90",
                 "~ source usersdb (SourceUsersdb, AWS::DMS::Endpoint): update", "~ ssl_mode: require -> none",
                 "~ server: usersdb.staging.internal.acme.io -> usersdb-2.staging.internal.acme.io",
                 "+ users.devices  add", "↻ foodsearch.foods  reload  v202008040000 -> v202111230900",
                 "impact: reload of 1 table, ", "impact: stopped for the deploy"):
        assert line in text and line in markdown, line
    plan = plan_from_json((folder / "plan.json").read_text())
    changes = {r.name: r.values for s in plan.stacks for r in s.resources}
    assert changes["instance growth-main"] == (ValueChange("class", "dms.t3.medium", "dms.r5.large"),)
    assert changes["source usersdb"] == (
        ValueChange("server", "usersdb.staging.internal.acme.io", "usersdb-2.staging.internal.acme.io"),
        ValueChange("ssl_mode", "require", "none"))
    tasks = {t.task: t for s in plan.stacks for t in s.tasks}
    assert tasks["foodsearch"].values == (
        ValueChange("settings.ChangeProcessingTuning.BatchApplyTimeoutMax", "60", "90"),)
    assert tasks["foodsearch"].impact is not None and tasks["foodsearch"].impact.kind == "reload"
    assert tasks["foodsearch"].impact.rows and plan.summary.rows_to_reload == tasks["foodsearch"].impact.rows
    assert tasks["users-cdc"].impact is not None and tasks["users-cdc"].impact.label == "stopped for the deploy"
