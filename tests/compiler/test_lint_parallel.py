"""cfn-lint over a whole tree (compiler/lint.py, Linter.lint_all): cache misses linted in a process pool
sized by the cores, with the same findings in the same order as one by one; the version read from the
distribution's metadata (cfnlint is not imported for it)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from dmsctl.compiler import lint
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter
from tests.compiler.test_codes import BAD_TEMPLATE
from tests.helpers import EXAMPLES


def _stacks() -> list[tuple[str, str]]:
    tree = compile_tree(EXAMPLES, "staging").require_tree()
    base = (tree.base.name, tree.base.body)
    # templates with findings around a clean one: their order must survive the pool
    return [("bad-1", BAD_TEMPLATE), base, ("bad-2", BAD_TEMPLATE.replace("Unused", "Spare"))]


def test_the_pool_finds_what_one_by_one_finds_in_the_same_order(tmp_path):
    stacks = _stacks()
    serial = [d for name, body in stacks for d in Linter(workers=1).lint(name, body, "eu-west-1")]
    pooled_linter = Linter(cache_dir=tmp_path / "lint", workers=2)
    pooled = pooled_linter.lint_all(stacks, "eu-west-1")
    assert pooled == serial
    assert {d.code for d in pooled} == {"E302", "W302"}
    assert [d.file for d in pooled if d.code == "E302"] == ["<template bad-1>", "<template bad-2>"]
    assert (pooled_linter.linted, pooled_linter.cached) == (len(stacks), 0)

    warm = Linter(cache_dir=tmp_path / "lint", workers=2)
    assert warm.lint_all(stacks, "eu-west-1") == serial
    assert (warm.linted, warm.cached) == (0, len(stacks))  # nothing linted again, no pool started


def test_one_worker_per_core_when_there_are_templates_enough():
    assert lint.workers_for(201, cores=2) == 2
    assert lint.workers_for(201, cores=16) == 16
    assert lint.workers_for(40, cores=16) == 40 // lint.TEMPLATES_PER_WORKER
    assert lint.workers_for(4, cores=2) == 1  # a pool would cost more than it saves
    assert lint.workers_for(0, cores=2) == 1


def test_the_cache_key_names_the_installed_cfn_lint_without_importing_it():
    code = ("import sys; from dmsctl.compiler import lint; v = lint._cfnlint_version(); "
            "print(v, 'cfnlint' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [metadata.version("cfn-lint"), "False"]
