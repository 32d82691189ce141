"""A real `dmsctl apply` process, signalled the way CI cancels a job (SIGINT, or SIGTERM from `timeout` or
a pod eviction), against the sandbox served over HTTP with a manual clock: the test moves time.

It says what it does, exits 128 + signal within seconds, leaves the lock free, and the next apply
converges without `dmsctl unlock`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dmsctl.sandbox.demo import CONFIGS, SCENARIO

pytestmark = pytest.mark.server


def _dmsctl(url: str, tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DMSCTL_"))}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="eu-west-1", NO_COLOR="1", XDG_CACHE_HOME=str(tmp / "cache"))
    return subprocess.Popen([sys.executable, "-m", "dmsctl", "--config-dir", str(CONFIGS), *args], cwd=tmp,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until(predicate, sandbox, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _task_status(sandbox, ident: str) -> str:
    rows = sandbox.client("dms").describe_replication_tasks(WithoutSettings=True)["ReplicationTasks"]
    return {r["ReplicationTaskIdentifier"]: r["Status"] for r in rows}.get(ident, "")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_apply_exits_promptly_and_the_next_one_converges(sandbox_server, tmp_path, signum):
    sandbox_server.load_scenario(SCENARIO)
    sandbox_server.configure(cfn_latency_seconds=300)  # the reload's first step takes a while on AWS, too
    apply = _dmsctl(sandbox_server.endpoint_url, tmp_path, "apply", "--env", "staging", "--yes", "--no-lint")
    # wait until the run has stopped the reloaded task (its stack update is then about to run)
    _until(lambda: _task_status(sandbox_server, "dmsctl-food-foodsearch") in ("stopping", "stopped"),
           sandbox_server)
    sandbox_server.advance(60)
    time.sleep(1.0)
    # "Promptly" without a timing assertion: the sandbox's clock is manual and nobody advances it now, so the
    # stack update never ends by itself: a run that did not stop on the signal would never exit (the
    # timeout only keeps a broken run from hanging the suite).
    apply.send_signal(signum)
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == 128 + signum, (out, err)
    assert f"received {signal.Signals(signum).name}" in err
    assert "error: interrupted by" in err and "Traceback" not in err
    assert "interrupted" in out  # "Run ...: interrupted."

    sandbox_server.configure(cfn_latency_seconds=0)
    sandbox_server.advance(600)
    again = _dmsctl(sandbox_server.endpoint_url, tmp_path, "apply", "--env", "staging", "--yes", "--no-lint")
    deadline = time.monotonic() + 240
    while again.poll() is None:  # move the manual clock while the second run waits on it
        assert time.monotonic() < deadline, "second apply did not finish"
        sandbox_server.advance(30)
        time.sleep(0.3)
    out2, err2 = again.communicate()
    assert again.returncode == 0, (out2, err2)  # no lock left behind: no unlock was needed
    sandbox_server.advance(3600)
    final = _dmsctl(sandbox_server.endpoint_url, tmp_path, "plan", "--env", "staging", "--no-lint")
    out3, err3 = final.communicate(timeout=120)
    assert final.returncode == 0 and "No changes" in out3, (out3, err3)
