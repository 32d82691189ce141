"""Old -> new values of a plan, in the config's vocabulary. Pure: templates and settings in, ValueChanges out.

A property of a template resource is shown under the name the config gives it (`class`, not
ReplicationInstanceClass); a reference to another resource under that resource's config name
(`instance growth-main`, not Ref:InstanceGrowthMain); nested values under dotted paths. A value
whose key names a password or secret string is never shown, whatever its source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dmsctl.deployer import plan as P

HIDDEN = "(secret: not shown)"
_SECRET_KEYS = ("password", "secretstring")

# CloudFormation property (dotted, the settings block of an endpoint's engine as "*") -> config key.
_VOCABULARY: dict[str, dict[str, str]] = {
    "AWS::DMS::ReplicationInstance": {
        "ReplicationInstanceClass": "class", "AllocatedStorage": "storage_gb", "MultiAZ": "multi_az",
        "EngineVersion": "engine_version"},
    "AWS::DMS::Endpoint": {
        "EngineName": "engine", "DatabaseName": "database", "SslMode": "ssl_mode",
        "*.SecretsManagerSecretId": "secret_id", "*.SlotName": "slot_name",
        "Tags.dmsctl:server": "server", "Tags.dmsctl:port": "port",
        "S3Settings.CdcMaxBatchInterval": "flush_interval_seconds", "S3Settings.CdcMinFileSize": "min_file_size_kb",
        "S3Settings.DataFormat": "data_format", "S3Settings.CompressionType": "compression",
        "S3Settings.BucketName": "bucket", "S3Settings.BucketFolder": "folder"},
    "AWS::DMS::ReplicationTask": {
        "ReplicationInstanceArn": "instance", "SourceEndpointArn": "source", "TargetEndpointArn": "target",
        "MigrationType": "migration_type", "CdcStartTime": "cdc_start_time"},
    "AWS::Events::Rule": {"ScheduleExpression": "schedule", "State": "state"},
}
# What a reviewer wants to see of a new resource (config keys; a source's record adds server and port).
_SHOWN_ON_CREATE = ("class", "storage_gb", "multi_az", "engine_version", "engine", "server", "port", "database",
                    "ssl_mode", "secret_id", "slot_name", "flush_interval_seconds", "min_file_size_kb",
                    "data_format", "compression", "folder", "instance", "source", "target", "migration_type",
                    "schedule", "state")


@dataclass(frozen=True)
class Names:
    """Config names of what templates refer to: logical ids and export names -> "instance growth-main"."""

    resources: dict[str, str]
    exports: dict[str, str]

    def ref(self, value: object) -> str:
        """A property value as a reviewer reads it: references by config name, strings as they are."""
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref" and isinstance(arg, str):
                return self.resources.get(arg, arg)
            if fn == "Fn::GetAtt" and isinstance(arg, list) and arg:
                return f"{self.resources.get(str(arg[0]), str(arg[0]))}.{'.'.join(str(a) for a in arg[1:])}"
            if fn == "Fn::ImportValue" and isinstance(arg, str):
                return self.exports.get(arg, f"import {arg}")
        return show(value)


NO_NAMES = Names({}, {})


def show(value: object) -> str:
    """Display text of a plain value: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _secret(path: str) -> bool:
    return any(k in part.lower() for part in path.split(".") for k in _SECRET_KEYS)


def flatten(value: object, path: str = "") -> dict[str, object]:
    """Dotted path -> leaf value. Tags ({Key, Value} lists) by key; other lists and intrinsic functions
    ({"Ref": ...}, {"Fn::...": ...}) are leaves."""
    if isinstance(value, dict) and value and not _intrinsic(value):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(t, dict) and set(t) == {"Key", "Value"} for t in value):
        return {f"{path}.{t['Key']}": t["Value"] for t in value}
    return {path: value}


def _intrinsic(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::"))


def config_key(resource_type: str, path: str) -> str:
    """The config's name for a template property path, or the path itself when the config has none."""
    vocabulary = _VOCABULARY.get(resource_type, {})
    if path in vocabulary:
        return vocabulary[path]
    head, _, rest = path.partition(".")
    if head.endswith("Settings") and head != "S3Settings" and f"*.{rest}" in vocabulary:
        return vocabulary[f"*.{rest}"]
    return path


def property_changes(resource_type: str, old: dict[str, Any], new: dict[str, Any], names: Names,
                     old_names: Names | None = None, skip: tuple[str, ...] = ()) -> tuple[P.ValueChange, ...]:
    """Every leaf that differs between two property sets, under its config name; `skip`: top-level
    properties shown elsewhere (a task's TableMappings and settings)."""
    before = {p: v for p, v in flatten({k: v for k, v in old.items() if k not in skip}).items() if p}
    after = {p: v for p, v in flatten({k: v for k, v in new.items() if k not in skip}).items() if p}
    old_names = old_names or names
    out = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        if _secret(path):
            out.append(P.ValueChange(config_key(resource_type, path), HIDDEN if path in before else None,
                                     HIDDEN if path in after else None))
            continue
        key = config_key(resource_type, path)
        out.append(P.ValueChange(key, _named(key, old_names.ref(a)) if path in before else None,
                                 _named(key, names.ref(b)) if path in after else None))
    return tuple(sorted(out, key=lambda v: v.path))


def attributes(resource_type: str, props: dict[str, Any], names: Names,
               record: tuple[tuple[str, str], ...] = ()) -> tuple[P.ValueChange, ...]:
    """The attributes of a new resource a reviewer cares about (class, storage, engine, server, ...)."""
    found = {config_key(resource_type, p): v for p, v in flatten(props).items() if p and not _secret(p)}
    found.update(dict(record))
    return tuple(P.ValueChange(key, None, _named(key, names.ref(found[key]))) for key in _SHOWN_ON_CREATE
                 if key in found)


def _named(key: str, text: str) -> str:
    """`instance: growth-main`, not `instance: instance growth-main`."""
    return text[len(key) + 1:] if text.startswith(f"{key} ") else text


def _settings_at(doc: dict[str, Any], path: str) -> tuple[bool, object]:
    """(present, value) of a dotted settings path; Logging.LogComponents.<Id> is that component's severity."""
    node: object = doc
    parts = path.split(".")
    for i, part in enumerate(parts):
        if parts[:i] == ["Logging", "LogComponents"] and isinstance(node, list):
            entry = next((c for c in node if isinstance(c, dict) and str(c.get("Id")) == part), None)
            if entry is None:
                return False, None
            node = entry.get("Severity", {k: v for k, v in entry.items() if k != "Id"})
            continue
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def settings_changes(paths: list[str], old: dict[str, Any], new: dict[str, Any]) -> tuple[P.ValueChange, ...]:
    """`settings.<path>: old -> new` for each dotted settings path that differs by meaning."""
    out = []
    for path in paths:
        had, a = _settings_at(old, path)
        has, b = _settings_at(new, path)
        hidden = _secret(path)
        out.append(P.ValueChange(f"settings.{path}", (HIDDEN if hidden else show(a)) if had else None,
                                 (HIDDEN if hidden else show(b)) if has else None))
    return tuple(out)
