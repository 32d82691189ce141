"""configs/ validates and compiles, for every environment (no AWS). Warnings are allowed, errors are not."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dmsctl.compiler import output
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.config import read_tree
from dmsctl.compiler.diagnostics import has_errors
from dmsctl.deployer.cli.main import cli
from tests.helpers import LIVE_CONFIGS, REPO


def _validate(monkeypatch, tmp_path, *options: str) -> None:
    # as CI runs it: `dmsctl --config-dir configs validate` from the repository root
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("DMSCTL_CACHE_DIR", str(tmp_path / "cache"))  # cfn-lint results: not the user's cache
    result = CliRunner().invoke(cli, ["--config-dir", "configs", "validate", *options])
    assert result.exit_code == 0, result.output  # 1: at least one error (warnings alone exit 0)
    assert "Traceback" not in result.output


def test_every_environment_validates(monkeypatch, tmp_path):
    _validate(monkeypatch, tmp_path, "--no-lint")


def test_every_environment_validates_with_cfn_lint(monkeypatch, tmp_path):
    _validate(monkeypatch, tmp_path, "--lint")


def test_a_plan_of_every_environment_compiles():
    """What `dmsctl plan` and `apply` compile before they read AWS, for each environment in base.yaml."""
    environments = read_tree(LIVE_CONFIGS).environments
    assert environments, "base.yaml defines no environments"
    for env in environments:
        result = compile_tree(LIVE_CONFIGS, env)
        errors = [str(d) for d in result.diagnostics if d.is_error]
        assert result.ok and not has_errors(result.diagnostics), (env, errors)
        files = output.files(result)  # what `dmsctl compile` writes: manifest, templates, mappings
        for name, body in files.items():
            if name.endswith(".json"):
                json.loads(body)
