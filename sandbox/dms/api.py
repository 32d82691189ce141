"""DMS JSON API: one handler per operation, installed on moto's DMS response class.

moto routes an operation to the response-class method of the same snake_case name
(``call_action``), so installing = setting those methods; moto's own DMS backend is never
reached. Every handler first syncs the simulation to the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .. import world as world_mod
from .backend import DmsBackend

Handler = Callable[[DmsBackend, dict[str, Any]], dict[str, Any]]


def _delete_replication_subnet_group(b: DmsBackend, p: dict[str, Any]) -> dict[str, Any]:
    b.delete_replication_subnet_group(p["ReplicationSubnetGroupIdentifier"])
    return {}


def _add_tags_to_resource(b: DmsBackend, p: dict[str, Any]) -> dict[str, Any]:
    b.add_tags(p["ResourceArn"], p.get("Tags", []))
    return {}


def _remove_tags_from_resource(b: DmsBackend, p: dict[str, Any]) -> dict[str, Any]:
    b.remove_tags(p["ResourceArn"], p.get("TagKeys", []))
    return {}


HANDLERS: dict[str, Handler] = {
    "create_replication_instance": lambda b, p: {"ReplicationInstance": b.create_replication_instance(p)},
    "modify_replication_instance": lambda b, p: {"ReplicationInstance": b.modify_replication_instance(p)},
    "describe_replication_instances": lambda b, p: b.describe_replication_instances(p),
    "delete_replication_instance": lambda b, p: {
        "ReplicationInstance": b.delete_replication_instance(p["ReplicationInstanceArn"])
    },
    "create_endpoint": lambda b, p: {"Endpoint": b.create_endpoint(p)},
    "modify_endpoint": lambda b, p: {"Endpoint": b.modify_endpoint(p)},
    "describe_endpoints": lambda b, p: b.describe_endpoints(p),
    "delete_endpoint": lambda b, p: {"Endpoint": b.delete_endpoint(p["EndpointArn"])},
    "test_connection": lambda b, p: {
        "Connection": b.test_connection(p["ReplicationInstanceArn"], p["EndpointArn"])
    },
    "describe_connections": lambda b, p: b.describe_connections(p),
    "create_replication_subnet_group": lambda b, p: {
        "ReplicationSubnetGroup": b.create_replication_subnet_group(p)
    },
    "modify_replication_subnet_group": lambda b, p: {
        "ReplicationSubnetGroup": b.modify_replication_subnet_group(p)
    },
    "describe_replication_subnet_groups": lambda b, p: b.describe_replication_subnet_groups(p),
    "delete_replication_subnet_group": _delete_replication_subnet_group,
    "create_replication_task": lambda b, p: {"ReplicationTask": b.create_replication_task(p)},
    "modify_replication_task": lambda b, p: {"ReplicationTask": b.modify_replication_task(p)},
    "start_replication_task": lambda b, p: {"ReplicationTask": b.start_replication_task(p)},
    "stop_replication_task": lambda b, p: {"ReplicationTask": b.stop_replication_task(p["ReplicationTaskArn"])},
    "delete_replication_task": lambda b, p: {
        "ReplicationTask": b.delete_replication_task(p["ReplicationTaskArn"])
    },
    "describe_replication_tasks": lambda b, p: b.describe_replication_tasks(p),
    "describe_table_statistics": lambda b, p: b.describe_table_statistics(p),
    "reload_tables": lambda b, p: b.reload_tables(p),
    "add_tags_to_resource": _add_tags_to_resource,
    "remove_tags_from_resource": _remove_tags_from_resource,
    "list_tags_for_resource": lambda b, p: {
        "TagList": b.list_tags(p.get("ResourceArnList") or [p["ResourceArn"]])
    },
    "create_event_subscription": lambda b, p: {"EventSubscription": b.create_event_subscription(p)},
    "modify_event_subscription": lambda b, p: {"EventSubscription": b.modify_event_subscription(p)},
    "describe_event_subscriptions": lambda b, p: b.describe_event_subscriptions(p),
    "delete_event_subscription": lambda b, p: {
        "EventSubscription": b.delete_event_subscription(p["SubscriptionName"])
    },
}


def _make_method(name: str, handler: Handler) -> Callable[[Any], str]:
    def method(self: Any) -> str:
        params = json.loads(self.body or b"{}") if self.body else {}
        world = world_mod.current()
        with world.lock:
            backend = world.dms_backend(self.current_account, self.region)
            backend.sync()
            return json.dumps(handler(backend, params))

    method.__name__ = name
    method.__qualname__ = f"SandboxDms.{name}"
    method.sandbox_handler = True  # type: ignore[attr-defined]
    return method


def install(response_class: type) -> None:
    for name, handler in HANDLERS.items():
        setattr(response_class, name, _make_method(name, handler))
