"""The sandbox in its own process, and seeding it with a deployed, running config tree fast.

The server runs in a child process (`python -m benchmarks.sandbox_proc [factor|manual]`) so that
its CPU time (moto, the DMS simulation) neither shares the benchmark's GIL nor shows up in the
benchmark's memory measurements: the numbers are dmsctl's, plus the sandbox's response time.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

from dmsctl.sandbox.remote import RemoteSandbox
from dmsctl.sandbox.scenario import connect_tasks, deploy_stacks

REPO = Path(__file__).resolve().parent.parent
QUIET_CDC = 1e9  # sim seconds between CDC files: none during a benchmark (they only fill moto's S3)


def use_fake_credentials() -> None:
    """Every client of this process talks to the local sandbox only, with its dummy credentials."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1"
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


class SandboxProcess:
    """`with SandboxProcess(clock_factor=None) as sb:` -> sb.url, sb.remote (RemoteSandbox)."""

    def __init__(self, clock_factor: float | None = None):
        self.clock_factor = clock_factor
        arg = "manual" if clock_factor is None else repr(clock_factor)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_proc", arg],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("the sandbox process did not start")
        self.remote = RemoteSandbox(self.url)

    def reset(self) -> None:
        self.remote.reset()
        self.remote.configure(cdc_file_interval=QUIET_CDC)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the child exits when its stdin closes
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def seed(sb: RemoteSandbox, result) -> dict:
    """Deploy every stack of a compiled tree straight through CloudFormation (as scenario files do),
    start every task the config does not pause, and let the full loads finish. Returns timings."""
    tree = result.tree
    t0 = time.perf_counter()
    sb.configure(cdc_file_interval=QUIET_CDC, cfn_latency_seconds=0.0)
    sb.put_s3_object(tree.datalake_bucket, "README", "the lake")
    deploy_stacks(sb, [(s.name, s.body, {}) for s in tree.stacks])
    t1 = time.perf_counter()
    sb.advance(60)  # tasks created, endpoint connection tests done
    dms = sb.client("dms")
    arns = {
        t["ReplicationTaskIdentifier"]: t["ReplicationTaskArn"]
        for page in dms.get_paginator("describe_replication_tasks").paginate(WithoutSettings=True)
        for t in page["ReplicationTasks"]
    }
    wanted = [t for t in tree.tasks() if not t.paused]
    rows = {t["ReplicationTaskIdentifier"]: t
            for page in dms.get_paginator("describe_replication_tasks").paginate(WithoutSettings=True)
            for t in page["ReplicationTasks"]}
    connect_tasks(sb, [rows[t.identifier] for t in wanted])
    for t in wanted:
        dms.start_replication_task(
            ReplicationTaskArn=arns[t.identifier], StartReplicationTaskType="start-replication"
        )
    most = max((sum(1 for tb in t.tables if not tb.paused) for t in wanted), default=0)
    sb.advance(60 + 30 * math.ceil(most / 8))  # 8 tables load at once, ~20 s each at the default sizes
    states = {
        t["ReplicationTaskIdentifier"]: t
        for page in dms.get_paginator("describe_replication_tasks").paginate(WithoutSettings=True)
        for t in page["ReplicationTasks"]
    }
    not_up = [
        i.identifier
        for i in wanted
        if states[i.identifier]["Status"] != "running"
        and "FULL_LOAD_ONLY_FINISHED" not in (states[i.identifier].get("StopReason") or "")
    ]
    if not_up:
        raise RuntimeError(f"seeding: {len(not_up)} task(s) not running, e.g. {not_up[:3]}")
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "deploy_seconds": round(t1 - t0, 2),
        "stacks": len(tree.stacks),
        "tasks": len(tree.tasks()),
        "tasks_started": len(wanted),
    }


def _serve(arg: str) -> None:
    from dmsctl.sandbox.server import start_server

    handle = start_server(port=0, clock_factor=None if arg == "manual" else float(arg))
    print(handle.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    handle.stop()


if __name__ == "__main__":
    _serve(sys.argv[1] if len(sys.argv) > 1 else "manual")
