"""Reading the GitHub workflows, and running one `run:` step of them in bash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import REPO

WORKFLOW_DIR = REPO / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml")) + sorted(WORKFLOW_DIR.glob("*.yaml"))


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOW_DIR / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def step(job: dict, name: str | None = None, uses: str | None = None) -> dict:
    for s in job["steps"]:
        if (name and s.get("name") == name) or (uses and s.get("uses", "").startswith(uses)):
            return s
    raise AssertionError(f"no step {name or uses}")


def run_step(script: str, tmp: Path, env: dict[str, str], fakes: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str]]:
    """Run a step's script as GitHub does (bash -eo pipefail) in `tmp`; fakes: command -> bash body.
    Returns (exit code, the step's outputs)."""
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
    return proc.returncode, outputs
