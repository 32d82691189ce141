"""Plan renderers: golden text / Markdown / JSON, colour, the comment size cap, escaping, wording."""

from __future__ import annotations

import dataclasses
import re

import pytest

from dmsctl.deployer.plan import Plan, Summary, check, plan_from_json
from dmsctl.deployer.render import render, render_json, render_markdown, render_text
from dmsctl.deployer.render.common import summary_line
from tests.helpers import GOLDEN, compare_golden
from tests.render import plans

EXIT_CODES = {"one_step": 2, "two_step_reload": 2, "no_go": 1, "new_team": 2}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ALL_CASES = [plans.no_changes, plans.one_step, plans.two_step_reload, plans.no_go, plans.new_team,
             plans.removed_team]


@pytest.mark.parametrize("case", sorted(plans.GOLDEN_CASES))
def test_golden(case: str, update_golden: bool) -> None:
    plan = plans.GOLDEN_CASES[case]()
    actual = {"plan.txt": render_text(plan), "plan.md": render_markdown(plan), "plan.json": render_json(plan)}
    assert compare_golden(actual, GOLDEN / "render" / case, update_golden) == []
    assert plan.exit_code() == EXIT_CODES[case]


def test_exit_codes_of_the_other_plans() -> None:
    assert plans.no_changes().exit_code() == 0
    assert plans.removed_team().exit_code() == 2


@pytest.mark.parametrize("make", ALL_CASES, ids=lambda f: f.__name__)
def test_colour_only_when_asked(make) -> None:
    plan = make()
    plain, coloured = render_text(plan), render_text(plan, color=True)
    assert "\x1b" not in plain
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain  # colour adds escapes, nothing else


def test_colour_per_mark() -> None:
    coloured = render_text(plans.no_go(), color=True) + render_text(plans.two_step_reload(), color=True) \
        + render_text(plans.removed_team(), color=True)
    for code, mark in (("32", "+"), ("31", "-"), ("33", "~"), ("35", "-/+"), ("36", "↻")):
        assert f"\x1b[{code}m{mark}\x1b[0m" in coloured, mark
    assert "\x1b[1mChanges:\x1b[0m" in coloured
    assert "\x1b[1;31mVerdict: NO-GO (3 blocking checks)\x1b[0m" in coloured


def test_renderers_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plans.one_step()
    before = render_text(plan, color=True), render_text(plan), render_markdown(plan)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    assert (render_text(plan, color=True), render_text(plan), render_markdown(plan)) == before


def test_json_is_the_plan_file() -> None:
    plan = plans.no_go()
    assert render_json(plan) == plan.to_json()
    assert plan_from_json(render_json(plan)).checksum == plan.checksum


def test_dispatch() -> None:
    plan = plans.one_step()
    assert render(plan, "text") == render_text(plan)
    assert render(plan, "text", color=True) == render_text(plan, color=True)
    assert render(plan, "markdown", artifact_hint="x") == render_markdown(plan, "x")
    assert render(plan, "json") == render_json(plan)
    with pytest.raises(ValueError, match="unknown plan format"):
        render(plan, "yaml")


# The summary line ---------------------------------------------------------------------------------

def _with_summary(**counts) -> Plan:
    return dataclasses.replace(plans.one_step(), summary=Summary(**counts))


def test_summary_line_example() -> None:
    plan = _with_summary(steps=2, stacks_to_update=1, tasks_to_update=3, tasks_to_replace=1, tables_to_add=5,
                         tables_to_reload=1, tables_to_pause=1, tasks_to_stop=2)
    assert summary_line(plan) == ("Plan: 2 steps; 1 stack to update; 3 tasks to update, 1 to replace; "
                                  "5 tables to add, 1 to reload, 1 to pause, 2 tasks stopped.")


@pytest.mark.parametrize(("field", "one", "two"), [
    ("stacks_to_create", "1 stack to create", "2 stacks to create"),
    ("stacks_to_update", "1 stack to update", "2 stacks to update"),
    ("stacks_to_delete", "1 stack to delete", "2 stacks to delete"),
    ("tasks_to_create", "1 task to create", "2 tasks to create"),
    ("tasks_to_update", "1 task to update", "2 tasks to update"),
    ("tasks_to_replace", "1 task to replace", "2 tasks to replace"),
    ("tasks_to_delete", "1 task to delete", "2 tasks to delete"),
    ("tasks_to_stop", "1 task stopped", "2 tasks stopped"),
    ("tables_to_add", "1 table to add", "2 tables to add"),
    ("tables_to_reload", "1 table to reload", "2 tables to reload"),
    ("tables_to_remove", "1 table to remove", "2 tables to remove"),
    ("tables_to_pause", "1 table to pause", "2 tables to pause"),
    ("tables_to_resume", "1 table to resume", "2 tables to resume"),
])
def test_summary_line_each_count(field: str, one: str, two: str) -> None:
    assert summary_line(_with_summary(steps=1, **{field: 1})) == f"Plan: 1 step; {one}."
    assert summary_line(_with_summary(steps=2, **{field: 2})) == f"Plan: 2 steps; {two}."


def test_summary_line_groups_and_omits_zeros() -> None:
    plan = _with_summary(steps=1, stacks_to_create=1, stacks_to_delete=2, tasks_to_delete=3,
                         tables_to_remove=4, tables_to_resume=1)
    assert summary_line(plan) == ("Plan: 1 step; 1 stack to create, 2 to delete; 3 tasks to delete; "
                                  "4 tables to remove, 1 to resume.")


def test_no_changes() -> None:
    plan = plans.no_changes()
    text, md = render_text(plan), render_markdown(plan)
    assert text.endswith("Verdict: GO\nNo changes. DMS matches the configuration.\n")
    assert "Step " not in text and "Changes:" not in text and "Warnings:" not in text
    assert "**✅ GO**: No changes. DMS matches the configuration." in md
    assert "<details>" not in md


# Warnings and ordering ---------------------------------------------------------------------------

def test_replacement_is_shouted_before_any_task_detail() -> None:
    plan = plans.no_go()
    text, md = render_text(plan), render_markdown(plan)
    shout = ("!! task dmsctl-payments-billing-cdc will be REPLACED: "
             "every one of its 3 tables reloads from scratch")
    assert text.index(shout) < text.index("Changes:") < text.index("task foodsearch (")
    assert text.count(shout) == 2  # in the Warnings block and in the task block
    assert md.index("will be REPLACED: every one of its 3 tables") < md.index("<details>")


def test_markdown_order_marker_first() -> None:
    md = render_markdown(plans.no_go())
    lines = md.splitlines()
    assert lines[0] == "<!-- dmsctl-plan:staging -->"
    assert lines[1] == "### dmsctl plan: staging (123456789012, eu-west-1)"
    positions = [md.index(s) for s in ("⛔ NO-GO (3 blocking checks)", "Plan: 1 step;", "**Warnings**",
                                       "**Step 1 of 1**", "<details>", "| code | severity | message |")]
    assert positions == sorted(positions)


def test_checks_errors_first_with_acknowledgement() -> None:
    text = render_text(plans.no_go())
    assert text.index("P105 error") < text.index("P110 warning")
    removed = plans.removed_team()
    assert "(acknowledged by --allow-delete)" in render_text(removed)
    assert "warning (acknowledged by --allow-delete)" in render_markdown(removed)
    assert "stack dmsctl-team-legacy will be DELETED with its 1 task" in render_markdown(removed)


def test_two_step_plan_names_tables_to_drop_from_statistics() -> None:
    text = render_text(plans.two_step_reload())
    assert "Step 1 of 2: remove reloaded tables' old versions (and all other changes)" in text
    assert "Step 2 of 2: add reloaded tables' new versions" in text
    assert "until dropped from the table statistics before the next step: " \
           "dmsctl-food-foodsearch/foodsearch.barcodes" in text
    assert "↻ foodsearch.barcodes  reload  v202008040000 -> v202011191200  " \
           "s3: replication/food/fooddb/foodsearch/barcodes/v202011191200/" in text


# Markdown escaping and size ----------------------------------------------------------------------

def test_markdown_escapes_check_messages() -> None:
    nasty = check("P999", "error", "a | b <script>alert(1)</script> `rm -rf` *bold* [x](y)\nsecond line",
                  team="t|eam")
    plan = dataclasses.replace(plans.one_step(), checks=(nasty,))
    md = render_markdown(plan)
    row = next(line for line in md.splitlines() if line.startswith("| P999"))
    assert "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert r"a \| b" in row and r"t\|eam" in row
    assert r"\`rm -rf\`" in row and r"\*bold\*" in row and r"\[x\](y)" in row
    assert "<br>second line" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # exactly three cells


def test_markdown_diff_fence_outgrows_backticks() -> None:
    plan = plans.one_step()
    food = plan.stacks[0]
    task = dataclasses.replace(food.tasks[0], reasons=("a reason with ``` inside",))
    plan = dataclasses.replace(plan, stacks=(dataclasses.replace(food, tasks=(task,)),) + plan.stacks[1:])
    md = render_markdown(plan)
    assert "````diff\n" in md and "\n````\n" in md


def test_markdown_huge_plan_fits_in_a_comment() -> None:
    plan = plans.huge()  # 200 teams × 50 tasks × 50 tables
    assert plan.summary.tables_to_add == 500_000
    md = render_markdown(plan)
    assert len(md) <= 65_536
    assert md.startswith("<!-- dmsctl-plan:staging -->\n")
    assert "Plan: 1 step; 200 stacks to update; 10000 tasks to update; 500000 tables to add" in md
    assert ("**Step 1 of 1**: deploy all changes "
            "— update 200 stacks; stop 10000 tasks; start or resume 10000 tasks") in md
    assert md.rstrip().endswith("sections omitted, 1 shortened: the full plan is in the plan.json artifact "
                                "of this run._")
    assert "_… 199 sections omitted" in md


def test_markdown_many_small_sections_dropped_from_the_end() -> None:
    plan = plans.huge(teams=2000, tasks=1, tables=3)
    md = render_markdown(plan, artifact_hint="`plan.json` (build 42)", limit=20_000)
    assert len(md) <= 20_000
    kept = md.count("<details>")
    assert 0 < kept < 2000
    assert "<code>dmsctl-team-team000</code>" in md and "<code>dmsctl-team-team1999</code>" not in md
    note = re.escape(f"_… {2000 - kept} sections omitted") + r"(, 1 shortened)?" \
        + re.escape(": the full plan is in `plan.json` (build 42)._\n")
    assert re.search(note + r"\Z", md)


@pytest.mark.parametrize("limit", [150, 400, 1_000, 1_800, 3_000, 10_000])
def test_markdown_respects_any_limit(limit: int) -> None:
    for make in ALL_CASES:
        md = render_markdown(make(), limit=limit)
        assert len(md) <= limit, (make.__name__, limit)
    md = render_markdown(plans.no_go(), limit=limit)
    if len(render_markdown(plans.no_go())) > limit:
        assert "omitted" in md and "the plan.json artifact of this run" in md


def test_markdown_keeps_blocking_checks_when_cut() -> None:
    md = render_markdown(plans.no_go(), limit=2_100)  # the head (checksum line included) and a shortened first section
    assert "<details>" in md  # a shortened first section
    for code in ("P105", "P106", "P107", "P110"):
        assert f"| {code} |" in md
    assert "**Step 1 of 1**: deploy all changes — update 3 stacks; stop 3 tasks; start or resume 3 tasks" \
        in md
