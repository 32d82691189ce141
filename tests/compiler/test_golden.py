"""The compiled example configs, file by file, against tests/golden/compile/<env>/.

Regenerate after an intended change with `make golden` (pytest --update-golden) and review the diff.
"""

from __future__ import annotations

import pytest

from dmsctl.compiler import output
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter
from tests.helpers import EXAMPLES, GOLDEN, compare_golden


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_examples_compile_to_golden_files(env, update_golden, tmp_path):
    result = compile_tree(EXAMPLES, env, Linter(cache_dir=tmp_path / "lint"))
    assert result.ok, [str(d) for d in result.diagnostics]
    assert [d for d in result.diagnostics if d.code.startswith(("E", "W"))] == []  # cfn-lint clean too
    problems = compare_golden(output.files(result), GOLDEN / "compile" / env, update_golden)
    assert problems == []


def test_examples_have_three_teams_and_the_documented_patterns():
    tree = compile_tree(EXAMPLES, "staging").tree
    assert [s.name for s in tree.stacks] == ["dmsctl-base", "dmsctl-team-food", "dmsctl-team-growth",
                                             "dmsctl-team-payments"]
    tasks = {t.identifier: t for t in tree.tasks()}
    # one table in two versions across two tasks
    versions = {tb.version for t in tasks.values() for tb in t.tables if tb.name == "users.accounts"}
    assert len(versions) == 2
    assert any(tb.paused for t in tasks.values() for tb in t.tables)  # a paused table
    assert tasks["dmsctl-payments-ledger-cdc"].paused  # a paused task
    assert tasks["dmsctl-food-catalog-snapshot"].migration_type == "full-load"
    assert tasks["dmsctl-food-catalog-snapshot"].schedule is None  # one-time
    export = tasks["dmsctl-food-recipes-export"]  # a scheduled, dated export
    assert (export.migration_type, export.schedule.output) == ("full-load", "dated")
    food = tree.stacks[1].template["Resources"]
    assert {"StateMachineRecipesExport", "ScheduleRecipesExport", "ExportEndpointRecipesExport", "EventsTopic",
            "EventSubscription"} <= set(food)


def test_compiling_twice_is_byte_identical():
    first = output.files(compile_tree(EXAMPLES, "prod"))
    second = output.files(compile_tree(EXAMPLES, "prod"))
    assert first == second
