"""ReplicationTaskSettings: one defaults file (templates/task-settings.json), per-task overrides.

Which keys exist and what values they take is schemas/task-settings.schema.json (checked with the
team file, compiler/schema_check.py: E211 for an unknown key, E104 for a bad value).
"""

from __future__ import annotations

import copy
import json
import math
from functools import cache

from dmsctl.compiler.data import templates_dir

DEFAULTS_FILE = templates_dir() / "task-settings.json"

# Overrides that would make DMS delete or rewrite data already in S3, or that DMS manages itself.
FORBIDDEN = {
    ("FullLoadSettings", "TargetTablePrepMode"): ("DO_NOTHING",),
    # on an S3 target a source TRUNCATE removes the table's files and folders unless this is false
    ("ChangeProcessingDdlHandlingPolicy", "HandleSourceTableTruncated"): (False,),
    ("Logging", "CloudWatchLogGroup"): (),
    ("Logging", "CloudWatchLogStream"): (),
}


@cache
def _defaults_text() -> str:
    return DEFAULTS_FILE.read_text()


def defaults() -> dict:
    return json.loads(_defaults_text())


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge `overrides` into a copy of `base`: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def task_settings(overrides_json: str) -> dict:
    return merge(defaults(), json.loads(overrides_json))


def forbidden_overrides(overrides: dict) -> list[tuple[str, object]]:
    """(dotted path, value) of overrides dmsctl refuses, e.g. a prep mode that drops target data."""
    bad = []
    for (section, key), allowed in FORBIDDEN.items():
        section_value = overrides.get(section)
        if isinstance(section_value, dict) and key in section_value and section_value[key] not in allowed:
            bad.append((f"{section}.{key}", section_value[key]))
    return bad


def non_finite_values(overrides: dict) -> list[tuple[str, float]]:
    """(dotted path, value) of NaN/infinite numbers (YAML .nan, .inf): JSON has no way to write them."""
    found: list[tuple[str, float]] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, float) and not math.isfinite(node):
            found.append((path, node))
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(overrides, "")
    return found
