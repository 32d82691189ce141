"""The sandbox as a local HTTP endpoint: moto's server app plus a control API.

AWS calls go to moto (patched by ``moto_patch.install``); requests under ``/_sandbox/``
drive what only a test or demo may touch:

  GET  /_sandbox/state                      clock, account, region, config
  POST /_sandbox/clock/advance              {"seconds": 60}
  POST /_sandbox/config                     {"cfn_latency_seconds": 30, ...}
  GET  /_sandbox/calls[?since=N]            the call log
  DELETE /_sandbox/calls                    clear the call log
  GET  /_sandbox/faults                     armed faults
  POST /_sandbox/faults/throttle            {"service": "dms", "operation": "StopReplicationTask", "times": 2}
  POST /_sandbox/faults/stack-update        {"stack_name": "...", "reason": "..."}
  POST /_sandbox/faults/rollback            {"stack_name": "...", "reason": "..."}
  POST /_sandbox/faults/slow-stop           {"task_id": "...", "seconds": 600}
  POST /_sandbox/faults/task-failure        {"task_id": "...", "message": "...", "at": "<ISO-8601>" | null}
  POST /_sandbox/faults/connection-test     {"endpoint_id": "..." | null, "message": "..."}
  GET  /_sandbox/changes                    changes recorded at source databases
  POST /_sandbox/changes                    {"endpoint": "...", "schema": "...", "table": "...", "inserts": 1,
                                             "updates": 0, "deletes": 0, "ddls": 0, "truncates": 0,
                                             "at": "<ISO-8601>" | null}
  GET  /_sandbox/slots                      logical replication slots at source databases
  POST /_sandbox/slots                      {"endpoint": "...", "slot": "..."} (create)
  DELETE /_sandbox/slots                    {"endpoint": "...", "slot": "..."} (drop)
  POST /_sandbox/table-sizes                {"task_id": "...", "schema": "...", "table": "...", "rows": 1}
  GET  /_sandbox/tables?task_id=...         per-table state/restarts/outputs
  GET  /_sandbox/sns-deliveries             SNS messages for http/https subscribers (recorded, not sent)
  GET  /_sandbox/overwrites                 S3 writes that were refused (must stay empty)
  GET  /_sandbox/deletions                  S3 objects tasks deleted (source TRUNCATE, HandleSourceTableTruncated)
  POST /_sandbox/scenario                   {"path": "..."} or {"scenario": {...}}
  POST /_sandbox/reset                      fresh account (moto + sandbox state)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import moto_patch
from . import world as world_mod
from .account import prepare_account
from .clock import SimClock
from .sandbox import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Sandbox, new_world, parse_when

PREFIX = "/_sandbox/"


class ControlApp:
    """WSGI middleware: ``/_sandbox/*`` -> control API, everything else -> moto."""

    def __init__(self, moto_app: Any, sandbox: Sandbox, clock_factor: float | None) -> None:
        self.moto_app = moto_app
        self.sandbox = sandbox
        self.clock_factor = clock_factor

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.moto_app(environ, start_response)
        request = Request(environ)
        try:
            payload = self.dispatch(request)
            response = Response(json.dumps(payload, default=str), 200, content_type="application/json")
        except (KeyError, ValueError, TypeError) as exc:
            response = Response(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 400,
                                content_type="application/json")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Any:
        sb = self.sandbox
        world = sb.world
        route = (request.method, request.path[len(PREFIX):].strip("/"))
        body = request.get_json(silent=True) or {}
        if route == ("GET", "state"):
            return {"now": world.clock.now().isoformat(), "account_id": sb.account_id, "region": sb.region,
                    "manual": world.clock.manual, "config": asdict(world.config)}
        if route == ("POST", "clock/advance"):
            sb.advance(float(body["seconds"]))
            return {"now": world.clock.now().isoformat()}
        if route == ("POST", "config"):
            return asdict(sb.configure(**body))
        if route == ("GET", "calls"):
            since = int(request.args.get("since", 0))
            return [c.to_dict() for c in list(world.calls)[since:]]
        if route == ("DELETE", "calls"):
            world.calls.clear()
            return {}
        if route == ("GET", "faults"):
            return world.faults.snapshot()
        if route == ("POST", "faults/throttle"):
            world.faults.throttle(body["service"], body["operation"], int(body.get("times", 1)))
        elif route == ("POST", "faults/stack-update"):
            world.faults.fail_next_stack_update(body["stack_name"], body.get("reason", "Injected failure"))
        elif route == ("POST", "faults/rollback"):
            world.faults.fail_next_rollback(body["stack_name"], body.get("reason", "Injected rollback failure"))
        elif route == ("POST", "faults/slow-stop"):
            world.faults.slow_stop(body["task_id"], float(body["seconds"]))
        elif route == ("POST", "faults/task-failure"):
            at = parse_when(body["at"]) if body.get("at") else None
            world.faults.fail_task(body["task_id"], body.get("message", "Injected task failure"), at)
        elif route == ("POST", "faults/connection-test"):
            world.faults.fail_next_connection_test(body.get("endpoint_id"), body.get("message", "Injected"))
        elif route == ("GET", "changes"):
            return world.changes.snapshot()
        elif route == ("POST", "changes"):
            counts = {k: int(body.get(k, 0)) for k in ("inserts", "updates", "deletes", "ddls", "truncates")}
            sb.record_changes(body["endpoint"], body["schema"], body["table"], at=body.get("at"), **counts)
        elif route == ("GET", "slots"):
            return sb.slots()
        elif route == ("POST", "slots"):
            sb.create_slot(body["endpoint"], body["slot"])
        elif route == ("DELETE", "slots"):
            sb.drop_slot(body["endpoint"], body["slot"])
        elif route == ("POST", "table-sizes"):
            sb.set_table_size(body["task_id"], body["schema"], body["table"], int(body["rows"]))
        elif route == ("GET", "tables"):
            return sb.tables(request.args["task_id"])
        elif route == ("GET", "sns-deliveries"):
            return [asdict(d) for d in sb.sns_deliveries]
        elif route == ("GET", "overwrites"):
            return [asdict(o) for o in sb.overwrites]
        elif route == ("GET", "deletions"):
            return [asdict(d) for d in sb.deletions]
        elif route == ("POST", "scenario"):
            sb.load_scenario(Path(body["path"]) if "path" in body else body["scenario"])
            return {"account_id": sb.account_id, "region": sb.region, "now": world.clock.now().isoformat()}
        elif route == ("POST", "reset"):
            reset_account(sb, self.clock_factor)
        else:
            raise KeyError(f"no control route {route[0]} {PREFIX}{route[1]}")
        return {"ok": True}


def reset_account(sb: Sandbox, clock_factor: float | None) -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    sb.world = new_world(SimClock(factor=clock_factor))
    prepare_account(sb)


@dataclass
class ServerHandle:
    url: str
    sandbox: Sandbox
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def start_server(host: str = "127.0.0.1", port: int = 0, scenario: Path | None = None,
                 clock_factor: float | None = 60.0, account_id: str = DEFAULT_ACCOUNT_ID,
                 region: str = DEFAULT_REGION) -> ServerHandle:
    """Start the sandbox on a background thread (port 0 = any free port); returns at once."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("the sandbox only binds to the loopback interface")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_patch.install()
    moto_patch.enable_moto_config()
    os.environ["MOTO_ACCOUNT_ID"] = account_id
    world = new_world(SimClock(factor=clock_factor))
    sandbox = Sandbox(world, region=region, account_id=account_id)
    app = ControlApp(DomainDispatcherApplication(create_backend_app), sandbox, clock_factor)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.server_address[1]}"
    # state machine executions call AWS SDK integrations at http://localhost:$MOTO_PORT
    os.environ["MOTO_PORT"] = str(server.server_address[1])
    sandbox.endpoint_url = url
    thread = threading.Thread(target=server.serve_forever, name="dms-sandbox", daemon=True)
    thread.start()
    prepare_account(sandbox)
    if scenario is not None:
        sandbox.load_scenario(scenario)
    assert world_mod.current() is world or scenario is not None
    return ServerHandle(url, sandbox, server, thread)


def serve(host: str = "127.0.0.1", port: int = 5000, scenario: Path | None = None,
          clock_factor: float = 60.0) -> None:
    """Run the sandbox in the foreground until interrupted (``dmsctl sandbox serve``)."""
    handle = start_server(host, port, scenario, clock_factor)
    sb = handle.sandbox
    print(f"DMS sandbox listening on {handle.url} (sim clock x{clock_factor:g}, account {sb.account_id})")
    print("Export these to point AWS clients at it:")
    print(f"  export AWS_ENDPOINT_URL={handle.url}")
    print("  export AWS_ACCESS_KEY_ID=testing")
    print("  export AWS_SECRET_ACCESS_KEY=testing")
    print(f"  export AWS_DEFAULT_REGION={sb.region}")
    print(f"Control API: {handle.url}{PREFIX}state")
    try:
        handle._thread.join()
    except KeyboardInterrupt:
        handle.stop()
