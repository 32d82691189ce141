"""Write a compiled tree to disk: templates, TableMappings per task, and a manifest.

    <out>/<env>/manifest.json
    <out>/<env>/stacks/<stack>.json          (pretty; the deployed body is the compact form)
    <out>/<env>/mappings/<team>/<task>.json

Deterministic: compiling twice writes byte-identical files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dmsctl.compiler.build import CompiledTree, CompileResult

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def manifest(result: CompileResult) -> dict:
    tree = result.tree
    assert tree is not None
    stats = {s.stack: s for s in result.stats}
    stacks = []
    for stack in tree.stacks:
        st = stats.get(stack.name)
        tasks = [{
            "identifier": t.identifier, "name": t.name, "migration_type": t.migration_type, "paused": t.paused,
            "source": t.source, "instance": t.instance, "target": t.target,
            "mappings_file": f"mappings/{t.team}/{t.name}.json", "mapping_bytes": len(t.mappings.encode()),
            "schedule": ({"expression": t.schedule.expression, "output": t.schedule.output}
                         if t.schedule is not None else None),
            "cdc_start_time": t.cdc_start_time,
            "tables": [{"schema": tb.schema, "table": tb.table, "version": tb.version, "paused": tb.paused,
                        "s3_prefix": tb.s3_prefix} for tb in t.tables],
        } for t in stack.tasks]
        stacks.append({"name": stack.name, "kind": stack.kind, "team": stack.team, "sha256": stack.sha256,
                       "template_file": f"stacks/{stack.name}.json", "template_bytes": len(stack.body.encode()),
                       "resources": st.resources if st else None, "tasks": tasks})
    return {"format": MANIFEST_FORMAT, "env": tree.env, "account_id": tree.account_id, "region": tree.region,
            "resource_prefix": tree.resource_prefix, "datalake_bucket": tree.datalake_bucket, "stacks": stacks}


def files(result: CompileResult) -> dict[str, str]:
    """Relative path -> content of everything `write` puts under <out>/<env>/."""
    tree: CompiledTree | None = result.tree
    assert tree is not None
    out = {MANIFEST: json.dumps(manifest(result), indent=2, sort_keys=True) + "\n"}
    for stack in tree.stacks:
        out[f"stacks/{stack.name}.json"] = stack.pretty()
        for t in stack.tasks:
            mappings = json.dumps(json.loads(t.mappings), indent=2, sort_keys=True) + "\n"
            out[f"mappings/{t.team}/{t.name}.json"] = mappings
    return out


def write(result: CompileResult, out_dir: Path) -> Path:
    """Replace <out_dir>/<env>/ with the compiled files; refuses to clear a directory it did not write."""
    assert result.tree is not None
    target = Path(out_dir) / result.tree.env
    if target.exists():
        if not (target / MANIFEST).is_file():
            raise FileExistsError(f"{target} exists and was not written by dmsctl compile; choose another --out")
        shutil.rmtree(target)
    for rel, content in files(result).items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return target
