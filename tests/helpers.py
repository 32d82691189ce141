"""Test helpers: build config trees on disk, compare against golden files."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# The example config tree the tests, goldens and the demo use (never the live configs/).
EXAMPLES = REPO / "sandbox" / "scenarios" / "demo" / "current"
# The organisation's live configuration, edited by teams: only tests/live/ may read it (tests/conftest.py fails
# any other test that does).
LIVE_CONFIGS = REPO / "configs"
GOLDEN = REPO / "tests" / "golden"

MINIMAL_BASE = {
    "platform_owners": ["@acme/platform"],
    "default_environment": "staging",
    "environments": {
        "staging": {"account_id": "123456789012", "region": "eu-west-1", "datalake_bucket": "lake-staging",
                    "network": {"vpc_id": "vpc-0123456789abcdef0",
                                "subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]}},
        "prod": {"account_id": "210987654321", "region": "eu-west-1", "datalake_bucket": "lake-prod",
                 "network": {"vpc_id": "vpc-0123456789abcdef9",
                             "subnet_ids": ["subnet-0123456789abcdef7", "subnet-0123456789abcdef8"]}},
    },
    "datalake": {"root_prefix": "replication"},
    "targets": {"s3-1min": {"flush_interval_seconds": 60}, "s3-10min": {"flush_interval_seconds": 600}},
}


def minimal_team(name: str = "alpha", tables: int = 2) -> dict:
    return {
        "team": name,
        "owners": [f"@acme/{name}"],
        "sources": {"db": {"engine": "mysql", "server": "db.internal", "secret_id": f"dms/{name}/db"}},
        "instances": {"main": {"class": "dms.t3.medium", "storage_gb": 50}},
        "tasks": {"cdc": {"source": "db", "instance": "main", "target": "s3-10min",
                          "migration_type": "full-load-and-cdc",
                          "tables": [{"schema": "app", "table": f"t{i}", "version": "v202001010000"}
                                     for i in range(tables)]}},
    }


def write_tree(root: Path, base: dict | str | None = None, teams: dict[str, dict | str] | None = None) -> Path:
    """Write configs/ under `root`. Values may be dicts (dumped) or YAML text (written verbatim)."""
    config = root / "configs"
    (config / "teams").mkdir(parents=True, exist_ok=True)
    base = copy.deepcopy(MINIMAL_BASE) if base is None else base
    teams = {"alpha": minimal_team()} if teams is None else teams

    def dump(doc: dict | str) -> str:
        return doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)

    (config / "base.yaml").write_text(dump(base))
    for name, doc in teams.items():
        (config / "teams" / f"{name}.yaml").write_text(dump(doc))
    return config


def compare_golden(actual: dict[str, str], golden_dir: Path, update: bool) -> list[str]:
    """Compare {relative path: content} with files under golden_dir. Returns mismatch descriptions.

    With update=True, rewrites golden_dir to match and returns [].
    """
    if update:
        if golden_dir.exists():
            for f in sorted(golden_dir.rglob("*"), reverse=True):
                f.unlink() if f.is_file() else f.rmdir()
        for rel, content in actual.items():
            path = golden_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        return []
    problems = []
    expected = {str(p.relative_to(golden_dir)): p.read_text() for p in golden_dir.rglob("*") if p.is_file()} \
        if golden_dir.exists() else {}
    for rel in sorted(set(actual) | set(expected)):
        if rel not in expected:
            problems.append(f"new file not in golden: {rel}")
        elif rel not in actual:
            problems.append(f"golden file no longer produced: {rel}")
        elif actual[rel] != expected[rel]:
            problems.append(f"differs from golden: {rel}")
    if problems:
        problems.append("(if the change is intended: make golden, then review `git diff tests/golden`)")
    return problems
