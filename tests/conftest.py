"""Shared test configuration: the golden-file flag, and the guard that keeps the suite off configs/.

configs/ is the organisation's live configuration, edited by teams in their own pull requests. Only
tests/live/ may read it (every environment validates, CODEOWNERS is in sync, a plan of it compiles);
everything else uses the example tree (tests.helpers.EXAMPLES) or trees it writes itself, so a team's
ordinary change to configs/ cannot turn the suite red. The guard enforces it: an audit hook
(sys.addaudithook) sees every file opened and every directory listed in this process, and a test
outside tests/live/ that touched a path under configs/ fails, naming the path. The hook cannot see
inside child processes: tests that spawn `dmsctl` or the demo pass --config-dir (or run outside the
repository) and are reviewed by hand.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import LIVE_CONFIGS, REPO

# The sandbox fixtures (`sandbox`, `sandbox_server`) come from the installed plugin
# (entry point pytest11 "dmsctl-sandbox", sandbox/pytest_plugin.py).

LIVE_TESTS = REPO / "tests" / "live"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite golden files from the current output instead of comparing (review the diff!).")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# --- the guard: nothing outside tests/live/ reads configs/ ------------------------------------------------

class _LiveConfigGuard:
    """Records every access to a path under configs/ while `watching` (i.e. always, except while a
    tests/live/ test runs). `where` says what was running: a test's node id, or a module being collected."""

    # audit events whose first argument is a path (open: builtins.open, io.open, os.open, pathlib;
    # os.listdir / os.scandir: Path.iterdir / glob / rglob, os.walk, shutil.copytree; glob.glob)
    EVENTS = frozenset({"open", "os.listdir", "os.scandir", "glob.glob", "glob.glob/2"})

    def __init__(self, root: Path):
        self.roots = {os.path.normpath(os.fspath(root))}
        real = os.path.realpath(os.fspath(root))
        self.roots.add(real)
        self.watching = True
        self.where = "collection"
        self.hits: list[tuple[str, str]] = []
        self._busy = threading.local()

    def _under(self, path: str) -> bool:
        return any(path == root or path.startswith(root + os.sep) for root in self.roots)

    def __call__(self, event: str, args: tuple) -> None:
        if event not in self.EVENTS or not self.watching or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:  # an exception raised here would surface in the caller's open(): never let one out
            self._check(event, args)
        except Exception:
            pass
        finally:
            self._busy.on = False

    def _check(self, event: str, args: tuple) -> None:
        if not args:
            return
        target = args[0]
        if target is None:  # os.listdir() / os.scandir() of the working directory
            target = "."
        if isinstance(target, int):  # a file descriptor: already opened (and seen) by path
            return
        path = os.fsdecode(os.fspath(target))
        if not os.path.isabs(path):
            if event == "open" and len(args) > 1 and args[1] is None:
                # os.open (the only "open" without a mode string) with a relative name: the event does not
                # say whether that is relative to a dir_fd (shutil.rmtree, os.fwalk) or to the working
                # directory, so it is left out. builtins.open / io / pathlib always report their mode.
                return
            if event == "glob.glob/2" and len(args) > 3 and args[2] is None and args[3] is not None:
                return  # (pathname, recursive, root_dir, dir_fd): relative to a directory descriptor
            if event == "glob.glob/2" and len(args) > 2 and args[2] is not None:
                path = os.path.join(os.fsdecode(os.fspath(args[2])), path)
            # relative to the working directory (a test may chdir into the repository, or into configs/)
            path = os.path.join(os.getcwd(), path)
        path = os.path.normpath(path)
        if self._under(path) or self._under(os.path.realpath(path)):
            self.hits.append((path, self.where))

    def take(self) -> list[tuple[str, str]]:
        hits, self.hits = self.hits, []
        return hits


_GUARD = _LiveConfigGuard(LIVE_CONFIGS)


def pytest_configure(config: pytest.Config) -> None:
    # Audit hooks cannot be removed: install one per process (pytest_configure runs once per session).
    if not getattr(sys, "_dmsctl_live_config_guard", False):
        sys.addaudithook(_GUARD)
        sys._dmsctl_live_config_guard = True  # type: ignore[attr-defined]


def _is_live(node: pytest.Item | pytest.Collector) -> bool:
    return Path(str(node.path)).resolve().is_relative_to(LIVE_TESTS)


def pytest_collectstart(collector: pytest.Collector) -> None:
    _GUARD.watching = not _is_live(collector)
    _GUARD.where = f"collecting {collector.nodeid or collector.path}"


def pytest_collection_finish(session: pytest.Session) -> None:
    _GUARD.watching = True
    _GUARD.where = "after collection"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    # Covers the whole test: setup of every fixture it uses (module- and session-scoped ones included),
    # the call, and teardown.
    _GUARD.watching = not _is_live(item)
    _GUARD.where = item.nodeid
    yield
    _GUARD.watching = True
    _GUARD.where = "between tests"


def _report(hits: list[tuple[str, str]]) -> str:
    lines = sorted({f"  {os.path.relpath(path, REPO)}  ({where})" for path, where in hits})
    return ("read the live configs/ (only tests/live/ may: use tests.helpers.EXAMPLES or a tree the test writes "
            "itself, and pass --config-dir to the CLI):\n" + "\n".join(lines))


@pytest.fixture(autouse=True)
def _no_live_configs(request: pytest.FixtureRequest):
    """Fails a test outside tests/live/ that opened or listed anything under configs/ (during its setup, call
    or teardown, or while its module was collected)."""
    yield
    if _is_live(request.node):
        return  # not watched while it ran; earlier hits stay for the next check
    hits = _GUARD.take()
    if hits:
        pytest.fail(_report(hits), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    hits = _GUARD.take()  # touched after the last check (a late fixture teardown): still a failure
    if hits:
        session.config.get_terminal_writer().line("\n" + _report(hits), red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
