"""The package's import contracts, checked on the source with `ast` (no import-linter needed).

The same contracts as .importlinter (run by tools/lint-imports):

- dmsctl.compiler imports neither dmsctl.deployer nor dmsctl.sandbox: it is pure config -> templates;
- dmsctl.deployer does not import dmsctl.sandbox, except dmsctl.deployer.cli.sandbox_cmd, and that one
  only inside its functions (the sandbox needs the optional `sandbox` extra);
- dmsctl.sandbox does not import dmsctl.deployer (the offline AWS account knows nothing of its client).

Every import statement counts, including those inside functions; relative imports are resolved.
Like import-linter, an import that reaches a forbidden package through other modules (outside the
contract's own package) breaks the contract too. Source files are found through pyproject.toml's
package-dir mapping (dmsctl.compiler = compiler/, ...), so a newly mapped folder is covered at once.
"""

from __future__ import annotations

import ast
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOT_PACKAGE = "dmsctl"
# The folders the package was assembled from before it had one import name: importing them by these
# names only works by accident (from the repository root), never once installed.
OLD_TOP_LEVEL = ("compiler", "deployer", "sandbox")


@dataclass(frozen=True)
class Contract:
    name: str
    source: str
    forbidden: tuple[str, ...]
    lazy_exception: str | None = None  # a module of `source` allowed to import `forbidden` inside functions


CONTRACTS = (
    Contract("dmsctl.compiler imports neither dmsctl.deployer nor dmsctl.sandbox", "dmsctl.compiler",
             ("dmsctl.deployer", "dmsctl.sandbox")),
    Contract("dmsctl.deployer does not import dmsctl.sandbox (except the `dmsctl sandbox` commands, lazily)",
             "dmsctl.deployer", ("dmsctl.sandbox",), lazy_exception="dmsctl.deployer.cli.sandbox_cmd"),
    Contract("dmsctl.sandbox does not import dmsctl.deployer", "dmsctl.sandbox", ("dmsctl.deployer",)),
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    file: str  # its path, relative to the repository
    line: int
    target: str  # the absolute dotted name imported (`from a import b`: a.b; see _targets)
    in_function: bool

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def package_files() -> dict[str, Path]:
    """Module name -> source file, for every module of the distribution (pyproject.toml's package-dir)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    modules: dict[str, Path] = {}
    for package, folder in mapping.items():
        base = REPO / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            parts = [package, *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of `from <level dots><name> import ...` written in `module`."""
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(parts) - 1:
        raise ValueError(f"relative import beyond the top-level package in {module}")
    base = parts[:len(parts) - (level - 1)]
    return ".".join(base + ([name] if name else []))


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, file: str, is_package: bool):
        self.module, self.file, self.is_package = module, file, is_package
        self.depth = 0  # function nesting
        self.found: list[Import] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(Import(self.module, self.file, node.lineno, target, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            # `from a import b` imports a, and a.b when b is a module: count the more specific name
            # (it lies within every package a does).
            self._add(node, base if alias.name == "*" else f"{base}.{alias.name}" if base else alias.name)


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    collector = _Collector(module, str(path.relative_to(REPO)), _is_package(path))
    collector.visit(tree)
    return collector.found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return {module: imports_of(module, path) for module, path in package_files().items()}


def _module_of(target: str, modules: dict[str, list[Import]]) -> str | None:
    """The package module an imported name is (or lies in: `from m import function`), if any."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def _allowed(imp: Import, contract: Contract) -> bool:
    return imp.module == contract.lazy_exception and imp.in_function


def _chain_to(start: str, contract: Contract, graph: dict[str, list[Import]]) -> list[Import] | None:
    """A chain of imports from `start` (outside the contract's source package) into a forbidden package."""
    seen = {start}
    queue: deque[tuple[str, list[Import]]] = deque([(start, [])])
    while queue:
        module, chain = queue.popleft()
        for imp in graph.get(module, ()):
            if _allowed(imp, contract):
                continue
            if any(_within(imp.target, f) for f in contract.forbidden):
                return chain + [imp]
            nxt = _module_of(imp.target, graph)
            if nxt is None or nxt in seen or _within(nxt, contract.source):
                continue  # a module of the source package is checked on its own
            seen.add(nxt)
            queue.append((nxt, chain + [imp]))
    return None


def violations(contract: Contract, graph: dict[str, list[Import]]) -> list[str]:
    found = []
    for module in sorted(m for m in graph if _within(m, contract.source)):
        for imp in graph[module]:
            if _allowed(imp, contract):
                continue
            if any(_within(imp.target, f) for f in contract.forbidden):
                lazily = " (inside a function)" if imp.in_function else ""
                found.append(f"{imp.where}: {module} imports {imp.target}{lazily}")
                continue
            via = _module_of(imp.target, graph)
            if via is None or _within(via, contract.source):
                continue
            chain = _chain_to(via, contract, graph)
            if chain:
                hops = " -> ".join(f"{c.target} ({c.where})" for c in chain)
                found.append(f"{imp.where}: {module} imports {imp.target}, which imports {hops}")
    return found


def test_the_package_sources_are_found(graph):
    for part in ("dmsctl", "dmsctl.compiler.build", "dmsctl.deployer.gateway", "dmsctl.deployer.cli.sandbox_cmd",
                 "dmsctl.sandbox.moto_patch"):
        assert part in graph, f"{part} not found through pyproject.toml's package-dir"


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.source)
def test_import_contract(contract, graph):
    found = violations(contract, graph)
    assert not found, f"contract broken: {contract.name}\n  " + "\n  ".join(found)


def _all_python_files() -> list[Path]:
    """The package's sources, and the tests and benchmarks that import it."""
    files = set(package_files().values())
    for folder in ("tests", "benchmarks"):
        files.update(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def test_nothing_imports_the_old_top_level_names():
    found = []
    for path in _all_python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue  # relative imports stay inside the package
            for name in names:
                if name.split(".")[0] in OLD_TOP_LEVEL:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: imports {name} "
                                 f"(write {ROOT_PACKAGE}.{name}, or import it relatively)")
    assert not found, "imports of the pre-package names:\n  " + "\n  ".join(found)


# -- the checker itself ---------------------------------------------------------------------------------
def test_relative_imports_resolve_like_python():
    assert _resolve("dmsctl.sandbox.cfn.stacks", False, 1, "engine") == "dmsctl.sandbox.cfn.engine"
    assert _resolve("dmsctl.sandbox.cfn.stacks", False, 2, None) == "dmsctl.sandbox"
    assert _resolve("dmsctl.sandbox.cfn", True, 1, "model") == "dmsctl.sandbox.cfn.model"
    assert _resolve("dmsctl.sandbox.cfn", True, 2, "world") == "dmsctl.sandbox.world"
    assert _resolve("dmsctl.compiler.build", False, 0, "dmsctl.compiler.naming") == "dmsctl.compiler.naming"


def test_a_broken_contract_names_file_and_line():
    collector = _Collector("dmsctl.deployer.x", "deployer/x.py", is_package=False)
    collector.visit(ast.parse("import json\n\n\ndef f():\n    from ..sandbox import world\n"))
    graph = {"dmsctl.deployer.x": collector.found, "dmsctl.sandbox.world": []}
    assert violations(CONTRACTS[1], graph) == [
        "deployer/x.py:5: dmsctl.deployer.x imports dmsctl.sandbox.world (inside a function)"]


def test_the_sandbox_commands_may_import_the_sandbox_only_lazily():
    collector = _Collector("dmsctl.deployer.cli.sandbox_cmd", "deployer/cli/sandbox_cmd.py", is_package=False)
    collector.visit(ast.parse("from dmsctl import sandbox\n\n\ndef serve():\n    from ...sandbox import server\n"))
    graph = {"dmsctl.deployer.cli.sandbox_cmd": collector.found, "dmsctl.sandbox": [], "dmsctl.sandbox.server": []}
    assert violations(CONTRACTS[1], graph) == [
        "deployer/cli/sandbox_cmd.py:1: dmsctl.deployer.cli.sandbox_cmd imports dmsctl.sandbox"]


def test_an_indirect_import_breaks_a_contract_too():
    graph = {
        "dmsctl.compiler.a": [Import("dmsctl.compiler.a", "compiler/a.py", 3, "dmsctl.helper", False)],
        "dmsctl.helper": [Import("dmsctl.helper", "helper.py", 7, "dmsctl.deployer.plan", False)],
        "dmsctl.deployer.plan": [],
    }
    assert violations(CONTRACTS[0], graph) == [
        "compiler/a.py:3: dmsctl.compiler.a imports dmsctl.helper, which imports dmsctl.deployer.plan (helper.py:7)"]

