"""Reading the GitHub workflows (and the files around them: the deploy lock, Dependabot, the
pre-commit hooks), and running one `run:` step of them in bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers import REPO

WORKFLOW_DIR = REPO / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml")) + sorted(WORKFLOW_DIR.glob("*.yaml"))
DEPENDABOT = REPO / ".github" / "dependabot.yml"
LOCK_DIR = REPO / "requirements"
LOCK = LOCK_DIR / "deploy.txt"
LOCK_IN = LOCK_DIR / "deploy.in"
PRE_COMMIT_HOOKS = REPO / ".pre-commit-hooks.yaml"
PYPROJECT = REPO / "pyproject.toml"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOW_DIR / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def step(job: dict, name: str | None = None, uses: str | None = None) -> dict:
    for s in job["steps"]:
        if (name and s.get("name") == name) or (uses and s.get("uses", "").startswith(uses)):
            return s
    raise AssertionError(f"no step {name or uses}")


def run_script(script: str, tmp: Path, env: dict[str, str], fakes: dict[str, str] | None = None
               ) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run a step's script as GitHub does (bash -eo pipefail) in `tmp`; fakes: command -> bash body.
    Returns (the finished process, the step's outputs)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for command, body in (fakes or {}).items():
        (bin_dir / command).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / command).chmod(0o755)
    out = tmp / "github_output"
    out.write_text("")
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    full = {"PATH": path, "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(tmp / "summary"), **env}
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    proc = subprocess.run(bash, cwd=tmp, env=full, capture_output=True, text=True, timeout=60)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return proc, outputs


def run_step(script: str, tmp: Path, env: dict[str, str], fakes: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str]]:
    """run_script, returning (exit code, the step's outputs)."""
    proc, outputs = run_script(script, tmp, env, fakes)
    return proc.returncode, outputs


# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`, as written (YAML drops the comment)
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})"
                         r"\s+#\s+(?P<tag>v\d+(?:\.\d+){0,2})\s*$")


def uses_lines(path: Path) -> list[str]:
    """Every `uses:` line of a workflow file, as written."""
    return [line for line in path.read_text().splitlines() if re.match(r"^\s*(?:-\s+)?uses:", line)]


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> list[str]:
    """[project].dependencies of pyproject.toml."""
    return tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]


@dataclass(frozen=True)
class Locked:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]
    text: str  # the requirement as written, continuation lines joined


def read_lock(path: Path = LOCK) -> tuple[list[Locked], list[str]]:
    """A pip-compile lock: its requirements, and every logical line that is not one (options,
    anything else: a lock as the workflows use it has none)."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not stripped:
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    if current:
        logical.append(current.strip())
    locked, other = [], []
    for text in logical:
        m = re.fullmatch(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)"
                         r"(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})+)", text)
        if m:
            hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", m["hashes"]))
            locked.append(Locked(canonical(m["name"]), m["version"], hashes, text))
        else:
            other.append(text)
    return locked, other
