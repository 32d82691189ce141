"""The compile cache (compiler/cache.py): a compile with it gives exactly what a compile without it
gives, and redoes only the files and teams whose inputs changed."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from dmsctl.compiler import cache as cache_mod
from dmsctl.compiler.build import compile_tree, validate_all
from dmsctl.compiler.cache import CompileCache
from tests.helpers import EXAMPLES, MINIMAL_BASE, minimal_team, write_tree


def _same(a, b) -> None:
    """Two compile results are the same: stacks (bodies, tasks, config names, hashes), findings, stats."""
    assert a.diagnostics == b.diagnostics
    assert a.stats == b.stats
    assert [(s.name, s.kind, s.team, s.body, s.tasks, s.resources, s.template_sha256) for s in a.tree.stacks] == \
        [(s.name, s.kind, s.team, s.body, s.tasks, s.resources, s.template_sha256) for s in b.tree.stacks]
    assert a.config == b.config


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # findings name files relative to the working directory
    shutil.copytree(EXAMPLES, tmp_path / "configs")
    return tmp_path / "configs"


def test_a_cached_compile_is_the_uncached_compile(tree, tmp_path):
    files = 1 + len(list((tree / "teams").glob("*.yaml")))
    first = CompileCache(tmp_path / "cache")
    cold = compile_tree(tree, "staging", cache=first)
    assert first.misses == {"parse": files, "stacks": len(cold.config.teams)} and first.hits == {}
    warm_cache = CompileCache(tmp_path / "cache")
    warm = compile_tree(tree, "staging", cache=warm_cache)
    assert warm_cache.hits == {"parse": files, "stacks": len(cold.config.teams)} and warm_cache.misses == {}
    plain = compile_tree(tree, "staging")
    _same(cold, plain)
    _same(warm, plain)
    assert all("template" not in vars(s) for s in warm.tree.stacks)  # parsed on first use, not stored
    assert warm.tree.stacks[1].template == plain.tree.stacks[1].template


def test_only_the_changed_team_is_parsed_and_rendered_again(tree, tmp_path):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    food = tree / "teams" / "food.yaml"
    doc = yaml.safe_load(food.read_text())
    task = next(iter(doc["tasks"].values()))
    task["tables"].append({"schema": "app", "table": "brand_new", "version": "v202401010000"})
    food.write_text(yaml.safe_dump(doc, sort_keys=False))
    again = CompileCache(tmp_path / "cache")
    result = compile_tree(tree, "staging", cache=again)
    assert again.misses == {"parse": 1, "stacks": 1}
    assert again.hits["stacks"] == len(result.config.teams) - 1
    _same(result, compile_tree(tree, "staging"))
    assert any(tb.table == "brand_new" for t in result.tree.tasks() for tb in t.tables)


def test_a_base_change_renders_every_team_again(tree, tmp_path):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    base = tree / "base.yaml"
    base.write_text(base.read_text() + "\n# a comment changes the bytes\n")
    again = CompileCache(tmp_path / "cache")
    result = compile_tree(tree, "staging", cache=again)
    assert again.misses == {"parse": 1, "stacks": len(result.config.teams)}
    _same(result, compile_tree(tree, "staging"))


def test_another_environment_is_another_entry(tree, tmp_path):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    prod = CompileCache(tmp_path / "cache")
    result = compile_tree(tree, "prod", cache=prod)
    assert prod.misses.get("stacks") == len(result.config.teams) and "parse" not in prod.misses
    _same(result, compile_tree(tree, "prod"))


def test_findings_of_a_cached_file_come_back_with_their_positions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    team = minimal_team("alpha")
    team["sources"]["unused"] = {"engine": "mysql", "server": "x.internal", "secret_id": "dms/alpha/x"}  # W210
    broken = "team: beta\nowners: [@acme/beta\n"  # not YAML
    unknown = copy.deepcopy(minimal_team("gamma"))
    unknown["colour"] = "blue"  # an unknown field: a schema error
    tree = write_tree(tmp_path, teams={"alpha": team, "beta": broken, "gamma": unknown})
    plain = validate_all(tree)
    assert {d.code for d in plain} >= {"W210", "E100"} and len(plain) >= 3
    cold = validate_all(tree, cache=CompileCache(tmp_path / "cache"))
    warm_cache = CompileCache(tmp_path / "cache")
    warm = validate_all(tree, cache=warm_cache)
    assert warm_cache.hits["parse"] == 4
    assert [(d.code, d.file, d.line, d.column, d.message) for d in warm] == \
        [(d.code, d.file, d.line, d.column, d.message) for d in cold] == \
        [(d.code, d.file, d.line, d.column, d.message) for d in plain]


def test_a_corrupt_or_foreign_entry_is_a_miss_and_is_written_again(tree, tmp_path):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    entries = sorted((tmp_path / "cache" / "stacks").glob("*.pickle"))
    entries[0].write_bytes(b"\x80\x05truncated")
    shutil.copy(entries[2], entries[1])  # a whole entry, under another key
    again = CompileCache(tmp_path / "cache")
    result = compile_tree(tree, "staging", cache=again)
    assert again.misses == {"stacks": 2}
    _same(result, compile_tree(tree, "staging"))
    assert CompileCache(tmp_path / "cache").get("stacks", entries[0].stem) is not None  # rewritten


def test_a_change_of_the_compiler_starts_afresh(tree, tmp_path, monkeypatch):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "code_digest", lambda: "another dmsctl")
    again = CompileCache(tmp_path / "cache")
    compile_tree(tree, "staging", cache=again)
    assert again.hits == {}


def test_the_code_digest_covers_the_compiler_source_templates_and_schemas(tmp_path, monkeypatch):
    roots = cache_mod._roots()
    assert any((r / "render.py").is_file() for r in roots) and any((r / "team.yaml.j2").is_file() for r in roots)
    assert any(r.name == "schemas" or any(r.glob("*.json")) for r in roots)
    fake = tmp_path / "templates"
    fake.mkdir()
    (fake / "team.yaml.j2").write_text("Resources: {}\n")
    monkeypatch.setattr(cache_mod, "_roots", lambda: (fake,))
    digest = cache_mod.code_digest.__wrapped__  # without the per-process memo
    before = digest()
    (fake / "team.yaml.j2").write_text("Resources: {a: 1}\n")  # a development checkout's edit
    assert digest() != before


def test_an_unwritable_cache_costs_only_the_speed_up(tree, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder would be")
    cache = CompileCache(blocker)
    result = compile_tree(tree, "staging", cache=cache)
    _same(result, compile_tree(tree, "staging"))
    assert cache.hits == {}


def test_a_config_changed_in_memory_is_never_served_from_the_cache(tmp_path, monkeypatch):
    """The planner compiles intermediate configs (compile_config on a modified ConfigTree): without keys
    nothing is read from or written to the cache, whatever the team files say."""
    from dmsctl.compiler.build import compile_config

    monkeypatch.chdir(tmp_path)
    tree = write_tree(tmp_path, base=copy.deepcopy(MINIMAL_BASE), teams={"alpha": minimal_team("alpha", 3)})
    cache = CompileCache(tmp_path / "cache")
    full = compile_tree(tree, "staging", cache=cache)
    import dataclasses

    team = full.config.teams[0]
    fewer = dataclasses.replace(team, tasks=tuple(dataclasses.replace(t, tables=t.tables[:1]) for t in team.tasks))
    cache.hits.clear()
    smaller = compile_config(dataclasses.replace(full.config, teams=(fewer,)), cache=cache)
    assert cache.hits == {}
    assert sum(len(t.tables) for t in smaller.tree.tasks()) == 1


def test_old_entries_are_pruned_by_last_use(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(cache_mod, "KEEP_AT_LEAST", 3)
    cache = CompileCache(tmp_path / "cache")
    keys = [cache.key("parse", str(i)) for i in range(6)]
    for i, key in enumerate(keys):
        cache.put("parse", key, i)
        os.utime(cache._path("parse", key), (1000 + i, 1000 + i))
    assert cache.get("parse", keys[0]) == 0  # used now: the most recent
    reader = CompileCache(tmp_path / "cache")
    reader._used = {"parse": 0}  # this compile used no entry of it: keep KEEP_AT_LEAST
    assert reader.prune() == 3
    left = sorted(p.stem for p in (tmp_path / "cache" / "parse").glob("*.pickle"))
    assert left == sorted([keys[0], keys[4], keys[5]])


def test_entries_in_a_folder_others_may_write_are_never_read(tree, tmp_path):
    compile_tree(tree, "staging", cache=CompileCache(tmp_path / "cache"))
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0  # created for its user only
    (tmp_path / "cache" / "stacks").chmod(0o777)  # anyone could have put a pickle there
    again = CompileCache(tmp_path / "cache")
    result = compile_tree(tree, "staging", cache=again)
    assert "stacks" not in again.hits and again.misses["stacks"] == len(result.config.teams)
    assert again.hits["parse"] > 0  # the other folder is still its user's only
    _same(result, compile_tree(tree, "staging"))
