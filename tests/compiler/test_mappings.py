"""TableMappings: stable rule ids, escaping, output paths, paused tables."""

from __future__ import annotations

import json

from dmsctl.compiler import naming
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.mappings import build_mappings, escape_wildcards
from dmsctl.compiler.model import Table, Task
from tests.helpers import minimal_team, write_tree


def _task(tables) -> Task:
    return Task(name="cdc", source="db", instance="main", target="s3-10min", migration_type="full-load-and-cdc",
                paused=False, settings_overrides="{}", tables=tuple(tables))


def _rules_by_table(mappings: dict) -> dict:
    out: dict = {}
    for rule in mappings["rules"]:
        loc = rule["object-locator"]
        out.setdefault((loc["schema-name"], loc.get("table-name")), []).append(json.dumps(rule, sort_keys=True))
    return out


def test_adding_one_table_changes_only_that_tables_rules():
    tables = [Table("app", f"t{i}", "v202001010000") for i in range(30)]
    before = _rules_by_table(build_mappings("alpha", _task(tables)))
    after = _rules_by_table(build_mappings("alpha", _task(tables + [Table("app", "new_one", "v202101010000")])))
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {("app", "new_one"), ("app", "new[_]one")}


def test_removing_a_table_keeps_every_other_rule_id():
    tables = [Table("app", f"t{i}", "v202001010000") for i in range(30)]
    full = build_mappings("alpha", _task(tables))
    fewer = build_mappings("alpha", _task(tables[:10] + tables[11:]))
    ids_full = {r["rule-id"] for r in full["rules"]}
    ids_fewer = {r["rule-id"] for r in fewer["rules"]}
    assert ids_fewer < ids_full and len(ids_full - ids_fewer) == 2


def test_rule_ids_are_unique_numeric_and_fit_int32():
    tables = [Table(f"s{i % 7}", f"t{i}", "v202001010000") for i in range(2000)]
    rules = build_mappings("alpha", _task(tables))["rules"]
    ids = [r["rule-id"] for r in rules]
    assert len(ids) == len(set(ids)) == 2000 * 2 + 7
    assert all(i.isdigit() and 100_000_000 <= int(i) < 2**31 for i in ids)


def test_selection_is_explicit_and_transformations_escape_wildcards():
    m = build_mappings("alpha", _task([Table("my_db", "100%_[x]", "v202001010000")]))
    sel = [r for r in m["rules"] if r["rule-type"] == "selection"]
    assert sel[0]["rule-action"] == "explicit"
    assert sel[0]["object-locator"] == {"schema-name": "my_db", "table-name": "100%_[x]"}
    renames = [r for r in m["rules"] if r["rule-type"] == "transformation"]
    assert {r["object-locator"]["schema-name"] for r in renames} == {"my[_]db"}
    assert escape_wildcards("100%_[x]") == "100[%][_][[]x]"


def test_two_versions_of_a_table_land_in_different_prefixes():
    a = naming.table_prefix("replication", "growth", "usersdb", "users", "accounts", "v202008040000")
    b = naming.table_prefix("replication", "growth", "usersdb", "users", "accounts", "v202011191200")
    assert a != b and not a.startswith(b) and not b.startswith(a)
    assert a == "replication/growth/usersdb/users/accounts/v202008040000/"


def test_output_path_is_what_the_rename_rules_produce():
    m = build_mappings("growth", _task([Table("users", "accounts", "v202008040000")]))
    schema = next(r["value"] for r in m["rules"] if r.get("rule-target") == "schema")
    table = next(r["value"] for r in m["rules"] if r.get("rule-target") == "table")
    assert f"replication/{schema}/{table}/" == naming.table_prefix("replication", "growth", "db", "users",
                                                                    "accounts", "v202008040000")


def test_paused_tables_are_left_out_of_the_mapping(tmp_path):
    team = minimal_team(tables=3)
    team["tasks"]["cdc"]["tables"][1]["paused"] = True
    tree = compile_tree(write_tree(tmp_path, teams={"alpha": team}), "staging").tree
    task = tree.tasks()[0]
    selected = {r["object-locator"]["table-name"] for r in json.loads(task.mappings)["rules"]
                if r["rule-type"] == "selection"}
    assert selected == {"t0", "t2"}
    assert [tb.paused for tb in task.tables] == [False, True, False]  # still known to the planner


def test_an_export_task_renames_schemas_below_its_dated_folder():
    """A scheduled full-load task writes through its export endpoint (BucketFolder <root>/<team>/export/<task>/
    <date>): its schemas are renamed to <source>/<schema>, its tables to <table>/<version> as always."""
    from dmsctl.compiler.model import Schedule

    table = Table("app", "t_1", "v202001010000")
    export = Task(name="nightly", source="db", instance="main", target="s3-10min", migration_type="full-load",
                  paused=False, settings_overrides="{}", tables=(table,), schedule=Schedule("rate(1 day)", "dated"))
    values = {r["rule-target"]: r["value"] for r in build_mappings("alpha", export)["rules"]
              if r["rule-type"] == "transformation"}
    assert values == {"schema": "db/app", "table": "t_1/v202001010000"}
    folder = "replication/alpha/export/nightly/2026/11/01"
    prefix = naming.export_table_prefix("replication", "alpha", "nightly", "db", "app", "t_1", "v202001010000")
    assert prefix.replace(naming.DATE_PLACEHOLDER, "2026/11/01") == f"{folder}/{values['schema']}/{values['table']}/"
    continuous = Task(name="cdc", source="db", instance="main", target="s3-10min", migration_type="full-load",
                      paused=False, settings_overrides="{}", tables=(table,))
    assert {r["value"] for r in build_mappings("alpha", continuous)["rules"] if r.get("rule-target") == "schema"} == \
        {"alpha/db/app"}
