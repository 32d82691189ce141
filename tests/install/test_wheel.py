"""The field, not the checkout: the wheel built from this tree, installed into fresh virtualenvs and run
from a folder outside the repository, as users and CI run it.

- lean install (`pip install dmsctl-*.whl`): no moto; validate (with cfn-lint), compile, schema and
  --version work on a config repository elsewhere; `dmsctl sandbox` says what to install.
- with the extra (`pip install 'dmsctl-*.whl[sandbox]'`): the demo (validate, compile, plan, apply,
  plan, run) on the sandbox, from the shipped example configs.

Slow (two installs): marked `install`; part of the default run and of CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, REPO

pytestmark = pytest.mark.install


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _clean_env(tmp: Path) -> dict[str, str]:
    """No repository on any path, no sandbox endpoint, a private cache and HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "AWS_", "DMSCTL_", "PYTEST"))}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "cache"), NO_COLOR="1")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    src = tmp_path_factory.mktemp("src")
    # build from the tracked files only, the way a clean clone would
    files = _run(["git", "ls-files", "-z"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        if (REPO / rel).is_file() and not rel.startswith("configs/"):  # the live config is not packaged
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(src)], cwd=out)
    (found,) = out.glob("dmsctl-*.whl")
    return found


def _venv(root: Path, requirement: str, env: dict[str, str]) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    python = root / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
         cwd=root, env=env, timeout=900)
    return root / "bin"


def test_the_wheel_holds_one_package_and_every_data_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"dmsctl"}
    for needed in ("dmsctl/templates/team.yaml.j2", "dmsctl/templates/task-settings.json",
                   "dmsctl/schemas/team.schema.json", "dmsctl/schemas/base.schema.json",
                   "dmsctl/schemas/plan.schema.json",
                   "dmsctl/sandbox/scenarios/demo/scenario.yaml", "dmsctl/sandbox/scenarios/demo/current/base.yaml",
                   "dmsctl/py.typed"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert runtime and not any("moto" in r or "flask" in r.lower() for r in runtime), runtime


def test_lean_install_validates_and_compiles_a_config_repository_elsewhere(wheel, tmp_path):
    env = _clean_env(tmp_path)
    bin_dir = _venv(tmp_path / "lean", str(wheel), env)
    dmsctl = str(bin_dir / "dmsctl")
    repo = tmp_path / "config-repo"
    shutil.copytree(EXAMPLES, repo / "configs")
    probe = "import importlib.util as u; print(u.find_spec('moto') is None)"
    assert _run([str(bin_dir / "python"), "-c", probe], cwd=tmp_path, env=env).stdout.strip() == "True"

    version = _run([dmsctl, "--version"], cwd=tmp_path, env=env).stdout
    assert version.startswith("dmsctl ")
    validated = _run([dmsctl, "validate"], cwd=repo / "configs" / "teams", env=env)  # with cfn-lint
    assert "0 error(s)" in validated.stdout + validated.stderr
    _run([dmsctl, "compile", "--env", "staging", "--no-lint", "--out", str(tmp_path / "build")], cwd=repo, env=env)
    assert (tmp_path / "build" / "staging" / "manifest.json").is_file()
    assert _run([dmsctl, "schema", "team"], cwd=tmp_path, env=env).stdout.startswith("{")

    no_extra = _run([dmsctl, "sandbox", "serve"], cwd=tmp_path, env=env, check=False)
    assert no_extra.returncode == 1
    assert "pip install 'dmsctl[sandbox]'" in no_extra.stderr and "Traceback" not in no_extra.stderr
    usage = _run([dmsctl, "plan", "--bogus"], cwd=repo, env=env, check=False)
    assert usage.returncode == 64


def test_with_the_sandbox_extra_the_demo_plans_and_applies_from_anywhere(wheel, tmp_path):
    env = _clean_env(tmp_path)
    bin_dir = _venv(tmp_path / "full", f"{wheel}[sandbox]", env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    demo = _run([str(bin_dir / "dmsctl"), "sandbox", "demo", "--clock-factor", "1000"], cwd=elsewhere, env=env,
                timeout=600)
    assert "demo: plan -> apply -> No changes, on the sandbox." in demo.stdout
    assert "No changes" in demo.stdout
    assert list(elsewhere.iterdir()) == []  # wrote nothing where it was run
