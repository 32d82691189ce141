"""Synthetic config trees of any size, deterministic from a seed.

    generate(dest, teams=200, tasks=3, tables=50, seed=1)   # 200 teams, 3 tasks and 50 tables each

`tables` counts the tables of one team, spread unevenly over its `tasks` (each task gets at least
one). The base file is the example tree's `base.yaml` (sandbox/scenarios/demo/current, never the
live configs/); team files vary the way real ones do: 1-3 sources of different engines
(per-environment values or not), 1-2 instances, mostly full-load-and-cdc tasks with some cdc-only
and full-load-only ones, a few settings overrides, paused tables and paused tasks, versions spread
over five years. Same arguments, same bytes.
"""

from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# the example tree (the demo's), not the live configs/: teams edit that one
EXAMPLE_BASE = REPO / "sandbox" / "scenarios" / "demo" / "current" / "base.yaml"

AREAS = (
    "search ledger growth orders billing catalog identity fraud pricing checkout inventory shipping".split()
)
AREAS += "support ads risk loyalty media maps".split()
WORDS = """accounts users sessions orders order_items payments refunds invoices customers addresses products
prices carts events audit_log coupons reviews shipments returns subscriptions plans devices tokens merchants
ledger_entries balances transfers disputes stores regions campaigns""".split()
SCHEMAS = "app public core billing reporting dbo sales legacy".split()
# (engine, weight). No sqlserver: the compiler emits MicrosoftSQLServerSettings, which CloudFormation
# calls MicrosoftSqlServerSettings (cfn-lint E3002); add it back once compiler/render.py is fixed.
ENGINES = [
    ("mysql", 4),
    ("postgres", 4),
    ("aurora-postgresql", 2),
    ("aurora", 1),
    ("mariadb", 1),
    ("oracle", 1),
]
NEEDS_DATABASE = {"postgres", "aurora-postgresql", "sqlserver", "oracle"}
ALT_PORTS = {"mysql": 3307, "mariadb": 3307, "aurora": 3307, "postgres": 5433, "aurora-postgresql": 5433}
ALT_PORTS |= {"sqlserver": 1434, "oracle": 1522}
CLASSES = ["dms.t3.medium", "dms.r5.large", "dms.r5.xlarge", "dms.c5.large"]
MIGRATION = [("full-load-and-cdc", 16), ("cdc", 3), ("full-load", 1)]
OVERRIDES = [
    {"ChangeProcessingTuning": {"BatchApplyTimeoutMax": 60}},
    {"TargetMetadata": {"ParallelLoadThreads": 4}},
]
OVERRIDES += [{"FullLoadSettings": {"MaxFullLoadSubTasks": 16}}]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _per_env(rng: random.Random, staging: object, prod: object) -> object:
    return {"staging": staging, "prod": prod} if rng.random() < 0.7 else staging


def _version(rng: random.Random) -> str:
    year, month, day, hour = (
        rng.randint(2019, 2024),
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
    )
    return f"v{year}{month:02d}{day:02d}{hour:02d}00"


def team_name(i: int) -> str:
    return f"{AREAS[i % len(AREAS)]}-{i:03d}"


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` positive, uneven counts (the first task is usually the big one)."""
    weights = [rng.uniform(0.5, 2.0) for _ in range(parts)]
    weights[0] *= 2
    counts = [max(1, int(total * w / sum(weights))) for w in weights]
    counts[0] += total - sum(counts)
    while counts[0] < 1:  # only when total is barely above parts
        j = max(range(parts), key=counts.__getitem__)
        counts[j] -= 1
        counts[0] += 1
    return counts


def team_doc(i: int, tasks: int, tables: int, rng: random.Random) -> dict:
    if tables < tasks:
        raise ValueError(f"{tables} tables cannot fill {tasks} tasks")
    name = team_name(i)
    sources = {}
    for s in range(min(tasks, rng.choice([1, 1, 2, 2, 3]))):  # every source and instance is used
        engine = _pick(rng, ENGINES)
        src = f"{engine.split('-')[0]}db{s + 1}"
        host = f"{src}.{name}"
        doc = {
            "engine": engine,
            "server": _per_env(rng, f"{host}.staging.internal", f"{host}-replica.prod.internal"),
        }
        if engine in NEEDS_DATABASE:
            doc["database"] = src
        if rng.random() < 0.3:
            doc["port"] = ALT_PORTS[engine]
        doc["secret_id"] = _per_env(rng, f"dms/{name}/{src}-staging", f"dms/{name}/{src}-prod")
        sources[src] = doc
    instances = {}
    for n in range(min(tasks, rng.choice([1, 1, 2]))):
        instances[f"main{n + 1}"] = {
            "class": _per_env(rng, "dms.t3.medium", rng.choice(CLASSES)),
            "storage_gb": rng.choice([50, 100, 200]),
            "multi_az": _per_env(rng, False, True),
        }
    src_names, inst_names = sorted(sources), sorted(instances)
    used: set[tuple[str, str, str]] = set()
    task_docs = {}
    for t, count in enumerate(_split(rng, tables, tasks)):
        source = src_names[t % len(src_names)]
        task = {
            "source": source,
            "instance": inst_names[t % len(inst_names)],
            "target": rng.choice(["s3-10min", "s3-10min", "s3-1min"]),
            "migration_type": _pick(rng, MIGRATION if t else MIGRATION[:2]),
        }
        if t > 0 and rng.random() < 0.05:  # the first task always runs
            task["paused"] = True
        if rng.random() < 0.2:
            task["settings"] = copy.deepcopy(rng.choice(OVERRIDES))
        schemas = rng.sample(SCHEMAS, rng.randint(1, 3))
        rows = []
        for n in range(count):
            schema = rng.choice(schemas)
            table = f"{rng.choice(WORDS)}_{n}"
            while (source, schema, table) in used:
                table += "_x"
            used.add((source, schema, table))
            row = {"schema": schema, "table": table, "version": _version(rng)}
            if n > 0 and rng.random() < 0.03:
                row["paused"] = True
            rows.append(row)
        task_docs[f"{rng.choice(['cdc', 'stream', 'sync', 'copy'])}-{t + 1}"] = task | {"tables": rows}
    return {
        "team": name,
        "description": f"Synthetic team {i} ({tables} tables).",
        "owners": [f"@acme/{name}"],
        "sources": sources,
        "instances": instances,
        "tasks": task_docs,
    }


def dump(doc: dict) -> str:
    head = "# yaml-language-server: $schema=../../schemas/team.schema.json\n"
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)


def generate(dest: Path, teams: int, tasks: int = 3, tables: int = 50, seed: int = 1) -> Path:
    """Write `dest`/base.yaml and `dest`/teams/*.yaml (dest is emptied first); returns dest."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "teams").mkdir(parents=True)
    shutil.copyfile(EXAMPLE_BASE, dest / "base.yaml")
    for i in range(teams):
        rng = random.Random(f"{seed}/{i}")  # one stream per team: team i is the same whatever the size
        doc = team_doc(i, tasks, tables, rng)
        (dest / "teams" / f"{doc['team']}.yaml").write_text(dump(doc))
    return dest


def add_table(
    config_dir: Path,
    team: str,
    schema: str = "bench",
    table: str = "added_table",
    version: str = "v202501010000",
) -> str:
    """The small change of the benchmarks: one new table in `team`'s first running CDC task.
    Returns the task's name."""
    path = Path(config_dir) / "teams" / f"{team}.yaml"
    doc = yaml.safe_load(path.read_text())
    name = next(
        n for n, t in doc["tasks"].items() if not t.get("paused") and t["migration_type"] != "full-load"
    )
    doc["tasks"][name]["tables"].append({"schema": schema, "table": table, "version": version})
    path.write_text(dump(doc))
    return name


def change_setting(config_dir: Path, team: str, key: str = "BatchApplyTimeoutMax", value: int = 120) -> str:
    """The other small change: one settings override (ChangeProcessingTuning) in `team`'s first
    running CDC task. Returns the task's name."""
    path = Path(config_dir) / "teams" / f"{team}.yaml"
    doc = yaml.safe_load(path.read_text())
    name = next(
        n for n, t in doc["tasks"].items() if not t.get("paused") and t["migration_type"] != "full-load"
    )
    doc["tasks"][name].setdefault("settings", {}).setdefault("ChangeProcessingTuning", {})[key] = value
    path.write_text(dump(doc))
    return name
