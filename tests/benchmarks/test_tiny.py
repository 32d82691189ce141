"""The benchmarks' generator and runner work (no timing is asserted here: see benchmarks/README.md)."""

from __future__ import annotations

import json

from benchmarks.__main__ import main
from benchmarks.generate import add_table, change_setting, generate
from dmsctl.compiler.build import compile_tree, validate_all
from dmsctl.compiler.diagnostics import has_errors


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


def test_generator_is_deterministic_and_sized(tmp_path):
    a = _files(generate(tmp_path / "a", teams=4, tasks=3, tables=20, seed=7))
    b = _files(generate(tmp_path / "b", teams=4, tasks=3, tables=20, seed=7))
    c = _files(generate(tmp_path / "c", teams=4, tasks=3, tables=20, seed=8))
    assert a == b and a != c and len(a) == 5  # base.yaml + 4 teams
    bigger = _files(generate(tmp_path / "d", teams=6, tasks=3, tables=20, seed=7))
    assert all(bigger[name] == body for name, body in a.items())  # team i does not depend on the size
    tree = compile_tree(tmp_path / "a", "staging").tree
    assert len(tree.team_stacks) == 4 and len(tree.tasks()) == 12
    assert sum(len(t.tables) for t in tree.tasks()) == 80


def test_generated_trees_are_valid_in_every_environment(tmp_path):
    root = generate(tmp_path / "t", teams=12, tasks=3, tables=30, seed=3)
    diags = validate_all(root)
    assert not diags, [str(d) for d in diags][:5]
    task = add_table(root, "search-000")
    other = change_setting(root, "ledger-001")
    result = compile_tree(root, "prod")
    assert result.ok and not has_errors(result.diagnostics)
    names = {(t.team, t.name) for t in result.tree.tasks()}
    assert ("search-000", task) in names and ("ledger-001", other) in names


def test_runner_end_to_end_on_a_tiny_tree(tmp_path):
    out = tmp_path / "bench.json"
    code = main(
        [
            "--sizes",
            "2",
            "--tasks",
            "2",
            "--tables",
            "6",
            "--k",
            "2",
            "--repeat",
            "1",
            "--cfn-latency",
            "5",
            "--clock-factor",
            "50",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
            "--growth-teams",
            "1,2",
            "--growth-tables",
            "20,40",
        ]
    )
    res = json.loads(out.read_text())
    assert code == (0 if res["ok"] else 1)
    size = res["sizes"][0]
    assert {"compile", "lint", "setup", "plan"} <= set(size)
    assert (
        size["compile"]["seconds"] > 0
        and size["lint"]["cold_linted"] == 3
        and size["lint"]["lint_errors"] == 0
    )
    plan = size["plan"]
    assert (
        plan["total"] >= plan["lower_bound_total"] > 0 and plan["per_resource_refresh"]["dms_resources"] > 0
    )
    assert plan["nochange_has_changes"] is False and plan["plan"]["go"] and plan["seconds"] > 0
    assert res["memory"]["compile_mib"] > 0 and res["memory"]["plan_mib"] > 0
    assert [p["teams"] for p in res["growth"]["teams"]["points"]] == [1, 2]  # 2 reused from the sizes
    assert [p["tables"] for p in res["growth"]["tables"]["points"]] == [20, 40]
    assert res["growth"]["tables"]["points"][0]["calls"] >= res["growth"]["tables"]["points"][0]["lower_bound"]
    assert len(res["plan_profile"]["own_time"]) == 5 and plan["cpu_seconds"] > 0
    for run in ("one", "k_default", "k_parallel_k"):
        r = res["apply"][run]
        assert r["exit_code"] == 0, r["error"]
        assert r["tasks_stopped"] == r["tasks_changed_running"] > 0 and r["wall_seconds_real"] > 0
    assert len(res["targets"]) == 11 and all(isinstance(t["pass"], bool) for t in res["targets"])
    growth = res["compile_growth"]
    assert [r["teams"] for r in growth["teams"]] == [1, 2] and [r["tables"] for r in growth["tables"]] == [20, 40]
    assert isinstance(growth["teams_slope"], float) and isinstance(growth["tables_slope"], float)
    assert res["startup"]["ratio"] > 0 and res["warm_validate"]["exit_code"] == 0
    assert size["lint"]["workers"] >= 1



def test_physical_outage_is_read_from_the_sandbox_request_log():
    from benchmarks.bench_apply import physical_outages

    log = [
        {"operation": "StopReplicationTask", "params": {"ReplicationTaskArn": "a"}, "at": "2024-01-01T00:00:00+00:00"},
        {"operation": "StopReplicationTask", "params": {"ReplicationTaskArn": "b"}, "at": "2024-01-01T00:00:01+00:00"},
        {"operation": "ExecuteChangeSet", "params": {"StackName": "s"}, "at": "2024-01-01T00:00:06+00:00"},
        {"operation": "StartReplicationTask", "params": {"ReplicationTaskArn": "a"}, "at": "2024-01-01T00:00:52+00:00"},
    ]
    assert physical_outages(log, {"task_start_seconds": 10.0}) == {"a": 62.0}  # b is not running again
