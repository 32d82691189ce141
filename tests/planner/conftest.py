"""Planner tests against the in-process sandbox: the `harness` of tests/e2e plus a deployed baseline.

`planner_env` deploys the example configs (optionally changed first) with the real apply, lets the
full loads finish, and plans read-only, asserting on every plan that nothing was written to AWS.
Compile results are cached per config content for the whole session (compiling is pure).
"""

from __future__ import annotations

import copy
import hashlib
import time
import types
from collections.abc import Callable
from pathlib import Path

import botocore.endpoint
import botocore.retries.bucket
import pytest
import yaml

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.checks import Flags
from tests.e2e.conftest import Harness
from tests.helpers import EXAMPLES, write_tree

BUCKET = "acme-datalake-staging"
SETTLE = 3600  # sim seconds: every full load of the examples (1000 rows at 50 rows/s) is long done
READS = ("Describe", "List", "Get", "Head")

_BASE = yaml.safe_load((EXAMPLES / "base.yaml").read_text())
_TEAMS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((EXAMPLES / "teams").glob("*.yaml"))}
_COMPILED: dict[tuple[str, str], object] = {}


def example_teams() -> dict:
    return copy.deepcopy(_TEAMS)


def example_base() -> dict:
    return copy.deepcopy(_BASE)


def _digest(config_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(config_dir).rglob("*.yaml")):
        h.update(str(p.relative_to(config_dir)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


class CachedHarness(Harness):
    """The e2e harness with compile results shared across tests (same files -> same result)."""

    def compile(self, config_dir, env="staging"):
        key = (_digest(config_dir), env)
        if key not in _COMPILED:
            result = compile_tree(Path(config_dir), env)
            assert result.ok, [str(d) for d in result.diagnostics]
            _COMPILED[key] = result
        return _COMPILED[key]


def fast_retries(monkeypatch) -> list[float]:
    """botocore sleeps in real time between retries and in its adaptive rate limiter: record instead."""
    slept: list[float] = []
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.sleep = slept.append
    monkeypatch.setattr(botocore.endpoint, "time", fake_time)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    return slept


class World:
    """One test's account: write config trees, apply them, plan them (read-only, verified)."""

    def __init__(self, harness: CachedHarness, sandbox, root: Path, monkeypatch):
        self.harness, self.sandbox, self.root, self.monkeypatch = harness, sandbox, root, monkeypatch
        self._n = 0

    def tree(self, mutate: Callable[[dict], None] | None = None,
             base: Callable[[dict], None] | None = None) -> Path:
        teams, doc = example_teams(), example_base()
        if mutate:
            mutate(teams)
        if base:
            base(doc)
        self._n += 1
        return write_tree(self.root / f"tree{self._n}", base=doc, teams=teams)

    def apply(self, config_dir: Path, flags: Flags | None = None) -> None:
        code, _, progress = self.harness.apply(config_dir, flags=flags)
        assert code == 0, [e.message for e in progress.events]

    def deploy(self, mutate=None, settle: float = SETTLE) -> Path:
        """The bucket, then the (changed) example configs applied, then their full loads done."""
        self.sandbox.put_s3_object(BUCKET, "README", "the lake")
        cfg = self.tree(mutate)
        self.apply(cfg)
        self.sandbox.advance(settle)
        return cfg

    def plan(self, config_dir: Path, flags: Flags | None = None, env: str = "staging"):
        """Plan read-only and assert it made no write, both as the gateway counted and as AWS saw it."""
        mark = self.sandbox.calls.mark()
        planned, gw = self.harness.plan(config_dir, env=env, flags=flags)
        after = self.sandbox.calls.since(mark)
        assert gw.calls, "the plan made no AWS call at all"
        assert all(op.split(":")[1].startswith(READS) for op in gw.calls), gw.calls
        assert [c for c in after if c.mutating] == [], [(c.service, c.operation) for c in after if c.mutating]
        return planned, gw

    # -- live state -------------------------------------------------------------------------
    def task(self, ident: str) -> dict:
        rows = self.sandbox.client("dms").describe_replication_tasks()["ReplicationTasks"]
        return next(t for t in rows if t["ReplicationTaskIdentifier"] == ident)

    def wait_task(self, ident: str, *statuses: str, step: float = 5, limit: int = 200) -> dict:
        for _ in range(limit):
            row = self.task(ident)
            if row["Status"] in statuses:
                return row
            self.sandbox.advance(step)
        raise AssertionError(f"{ident} never reached {statuses}: {row['Status']}")


@pytest.fixture
def harness(sandbox, monkeypatch) -> CachedHarness:
    return CachedHarness(sandbox, monkeypatch)


@pytest.fixture
def world(harness, sandbox, tmp_path, monkeypatch) -> World:
    return World(harness, sandbox, tmp_path, monkeypatch)
