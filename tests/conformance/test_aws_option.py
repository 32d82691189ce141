"""`pytest tests/conformance --aws` refuses cleanly what it cannot run: missing flags (with the cost estimate),
missing credentials. No traceback, no AWS call (these runs have no credentials and no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@pytest.fixture(autouse=True)
def _not_under_aws(request):
    """These runs check the suite itself; inside an --aws run (theirs included) they would recurse."""
    if request.config.getoption("--aws"):
        pytest.skip("checks the --aws option from outside; not run with --aws")


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "pytest", str(HERE), "-p", "no:cacheprovider", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_aws_without_its_flags_prints_the_cost_and_what_is_missing(tmp_path):
    run = _run("--aws", tmp_path=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "--aws needs --aws-region, --aws-scratch-prefix, --aws-i-accept-costs" in out
    assert "dms.t3.micro" in out and "instance-hours" in out
    assert "Traceback" not in out


def test_aws_without_credentials_exits_with_a_clear_message(tmp_path):
    run = _run("--aws", "--aws-region", "eu-west-1", "--aws-scratch-prefix", "dmsctl-conformance-test0",
               "--aws-i-accept-costs", tmp_path=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "conformance --aws: no AWS credentials found" in out
    assert "Traceback" not in out


def test_aws_collects_without_credentials(tmp_path):
    run = _run("--aws", "--aws-region", "eu-west-1", "--aws-scratch-prefix", "dmsctl-conformance-test0",
               "--aws-i-accept-costs", "--collect-only", tmp_path=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_a_rename_only_mapping_change_keeps_the_tables_progress" in run.stdout
