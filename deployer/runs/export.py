"""Export run at time T (docs/WORKFLOWS.md "Export run"): a full load of the task into a new dated folder.

Everything that can refuse the run is read before the first change: the export endpoint, the task
(it must exist, write through that endpoint, and not be busy) and the folder (it must be empty:
an export never overwrites). Then: point the endpoint at the folder, wait for its connection test,
start the task (start-replication the first time, reload-target after) and wait for it to finish.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import Progress
from dmsctl.deployer.runs import dms
from dmsctl.deployer.runs.common import Emitter, new_run_id
from dmsctl.deployer.runs.model import DEFAULT_TIMEOUTS, RunFailed, RunRefused, RunResult, RunTarget, RunTimeouts, iso

FINISHED = "FULL_LOAD_ONLY_FINISHED"


def run_export(gw: Gateway, target: RunTarget, at: datetime, progress: Progress | None = None,
               timeouts: RunTimeouts = DEFAULT_TIMEOUTS, run_id: str | None = None) -> RunResult:
    run_id = run_id or new_run_id(at)
    tid = target.task_id
    out = Emitter(progress, tid)
    folder = target.export_folder(at)
    url = f"s3://{target.bucket}/{folder}/"
    out.emit("step", f"export run {run_id} of {tid} at {iso(at)} into {url}")

    endpoint = dms.endpoint_row(gw, target.export_endpoint_id)
    if endpoint is None:
        raise RunRefused(f"export endpoint {target.export_endpoint_id} of task {tid} does not exist: deploy "
                         f"{target.ref} with its schedule first (dmsctl apply)")
    settings = dict(endpoint.get("S3Settings") or {})
    if settings.get("BucketName") not in (None, target.bucket):
        raise RunRefused(f"export endpoint {target.export_endpoint_id} writes to bucket {settings['BucketName']}, "
                         f"not to the {target.env} data lake {target.bucket}: deploy the configuration (dmsctl apply)")
    row = dms.startable_task(gw, tid, target.ref)
    if row.get("TargetEndpointArn") != endpoint["EndpointArn"]:
        raise RunRefused(f"replication task {tid} does not write through its export endpoint "
                         f"{target.export_endpoint_id}: deploy the configuration (dmsctl apply)")
    listed = gw.call("s3", "list_objects_v2", resource=url, Bucket=target.bucket, Prefix=folder + "/", MaxKeys=1)
    if listed.get("Contents"):
        raise RunRefused(f"{url} already holds objects (e.g. {listed['Contents'][0]['Key']}): an export never "
                         f"overwrites, so the export of {target.ref} for {iso(at)} was not run again. Nothing was "
                         "changed")

    result = RunResult(run_id, tid, "export", "failed", iso(at), folder=url)
    try:
        gw.call("dms", "modify_endpoint", resource=f"endpoint {target.export_endpoint_id}",
                EndpointArn=endpoint["EndpointArn"], S3Settings={**settings, "BucketFolder": folder})
        out.emit("info", f"endpoint {target.export_endpoint_id} now writes to {url}")
        out.emit("wait", f"waiting for the connection tests of task {tid}")
        reason = dms.ensure_connections(gw, row, timeouts.connection)
        if reason:
            raise RunFailed(f"{reason}; task {tid} was not started")
        start_type = "reload-target" if "ReplicationTaskStartDate" in row else "start-replication"
        result = replace(result, start_type=start_type)
        out.emit("start", f"starting task {tid} ({start_type})")
        dms.start(gw, row, start_type)
        final = dms.wait_stopped(gw, tid, timeouts.task, lambda s: out.emit("wait", f"task {tid} is {s}"))
        result = replace(result, tables=dms.table_counts(gw, final) if final.get("Status") != "deleted" else ())
        reason = final.get("StopReason") or ""
        if final.get("Status") != "stopped" or FINISHED not in reason:
            why = final.get("LastFailureMessage") or reason or final.get("Status")
            raise RunFailed(f"task {tid} {final.get('Status')} before its full load finished: {why}. {url} may hold "
                            "a partial export; the next export needs another folder (another run time)")
    except DmsctlError as exc:
        result = replace(result, message=str(exc))
        out.emit("error", str(exc))
        raise RunFailed(str(exc), result) from None
    result = replace(result, status="succeeded")
    out.emit("done", f"task {tid} finished: {len(result.tables)} table(s), "
                        f"{result.totals['full_load_rows']} rows exported to {url}")
    return result
