"""A valid edit of configs/ (a team adds a table) leaves the rest of the suite green.

The repository's files are copied into a temporary folder, one table is added to a team file of the copy's
configs/, and the golden tests and the CODEOWNERS tests run there: they must pass unchanged, because
nothing outside tests/live/ reads configs/ (tests/conftest.py enforces it in-process; in the copy too).
The `dmsctl` package still imports from this checkout (editable install): the same code; what differs is
the copy's configs/.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dmsctl.compiler.build import validate_all
from dmsctl.compiler.diagnostics import has_errors
from tests.helpers import REPO

# A representative part of the suite: every golden test, and the CODEOWNERS tests (run in the copy).
SUITE = ["tests/compiler/test_golden.py", "tests/planner/test_golden.py", "tests/gitops/test_codeowners.py",
         "tests/render/test_render.py::test_golden"]


def copy_repository(dest: Path) -> Path:
    """The repository's files, as in the working tree: tracked ones and new ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():  # a file deleted (or moved) in the working tree but not yet in the index: skip
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return dest


def _last_line(node: yaml.Node) -> int:
    """0-based line of the last character of `node` (block collections end where the next token starts)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        mark = node.end_mark
        return mark.line if mark.column > 0 else mark.line - 1
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max(_last_line(child) for child in children)


def _child(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _next_version(versions: list[str]) -> str:
    """A version after the newest of the file (vYYYYMMDDHHMM): one day later."""
    newest = dt.datetime.strptime(max(versions), "v%Y%m%d%H%M")
    return (newest + dt.timedelta(days=1)).strftime("v%Y%m%d%H%M")


def add_table(team_file: Path) -> tuple[str, str, dict] | None:
    """Append one new table to the first task with tables, written the way the file writes its entries
    (`- {schema: ..., table: ..., version: ...}` lines, block mappings, or one `[...]`), with the last entry's
    keys and a fresh name and version. A text edit: the file's comments and layout stay as they are.
    Returns (team, task, entry), or None if no task lists tables."""
    text = team_file.read_text()
    doc, root = yaml.safe_load(text), yaml.compose(text)
    tasks = _child(root, "tasks") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(tasks, yaml.MappingNode):
        return None
    for name_node, task in tasks.value:
        tables = _child(task, "tables") if isinstance(task, yaml.MappingNode) else None
        if not isinstance(tables, yaml.SequenceNode) or not tables.value:
            continue
        task_name, last_node = name_node.value, tables.value[-1]
        existing = doc["tasks"][task_name]["tables"]
        versions = [t["version"] for task_doc in doc["tasks"].values() for t in task_doc.get("tables", [])]
        names = {t["table"] for task_doc in doc["tasks"].values() for t in task_doc.get("tables", [])}
        entry = {k: v for k, v in existing[-1].items() if k != "paused"}  # a new table runs
        entry["table"] = next(n for n in (f"added_{i}" for i in range(1000)) if n not in names)
        entry["version"] = _next_version(versions)

        flow = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=10**6).strip()
        if tables.flow_style:  # tables: [{...}, {...}]: one more item before the "]"
            end = tables.end_mark.index - 1
            edited = text[:end].rstrip() + ", " + flow + text[end:]
        else:  # one "- ..." item per line (or block): a new item after the last one, indented the same
            lines = text.splitlines(keepends=True)
            start = last_node.start_mark
            prefix = lines[start.line][:start.column]  # e.g. "      - "
            if last_node.flow_style:
                new = [prefix + flow]
            else:
                body = yaml.safe_dump(entry, default_flow_style=False, sort_keys=False).splitlines()
                new = [prefix + body[0]] + [" " * start.column + line for line in body[1:]]
            at = _last_line(last_node) + 1
            if at == len(lines) and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines[at:at] = [line + "\n" for line in new]
            edited = "".join(lines)

        after = yaml.safe_load(edited)  # exactly one entry more, nothing else changed
        doc["tasks"][task_name]["tables"].append(entry)
        assert after == doc, "the edit changed more than one table entry"
        team_file.write_text(edited)
        return doc.get("team", team_file.stem), task_name, entry
    return None


def test_adding_a_table_to_configs_keeps_the_suite_green(tmp_path, request):
    if request.config.getoption("--update-golden"):
        pytest.skip("goldens are being rewritten in this run: compare them in the next one")
    copy = copy_repository(tmp_path / "repo")
    configs = copy / "configs"
    added = next(filter(None, (add_table(f) for f in sorted((configs / "teams").glob("*.yaml")))), None)
    if added is None:
        pytest.skip("no task in configs/ lists tables: nothing to add one next to")

    # the edit is one a team could merge: the copy's configs still validate in every environment
    diags = validate_all(configs)
    assert not has_errors(diags), [str(d) for d in diags if d.is_error]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *SUITE, "-x"],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=300)  # -q: pyproject
    assert proc.returncode == 0, f"with {added} added to the copy's configs/:\n" + proc.stdout[-6000:] \
        + proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed", summary), proc.stdout[-3000:]  # the copy's tests ran
