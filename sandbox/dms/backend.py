"""DMS backend of one (account, region): API operations on sandbox models.

Methods take/return DMS API shapes (dicts keyed like the JSON API); the HTTP layer
(``api.py``) and the CloudFormation resource models (``cfn/dms_resources.py``) both use it.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    InvalidResourceStateFault,
    ResourceAlreadyExistsFault,
    ResourceNotFoundFault,
)
from .mappings import TableRef
from .positions import start_time_position
from .postgres import check_start as check_postgres_start
from .prerequisites import require_vpc_role
from .resources import (
    ENDPOINT_SCALAR_KEYS,
    ENDPOINT_SETTINGS_KEYS,
    Connection,
    Endpoint,
    EventSubscription,
    ReplicationInstance,
    SubnetGroup,
    clear_text,
    drop_clear_text,
    uses_secret,
)
from .settings_values import install as _refuse_invalid_values
from .task import ReplicationTask

if TYPE_CHECKING:
    from ..world import World

_rng = random.Random()


def _resource_id() -> str:
    return "".join(_rng.choices(string.ascii_uppercase + string.digits, k=26))


def paginate(items: list[Any], params: dict[str, Any], maximum: int) -> tuple[list[Any], str | None]:
    max_records = int(params.get("MaxRecords") or min(100, maximum))
    if not 20 <= max_records <= maximum:
        raise InvalidParameterValueException(f"MaxRecords must be between 20 and {maximum}")
    start = int(params.get("Marker") or 0)
    page = items[start : start + max_records]
    marker = str(start + max_records) if start + max_records < len(items) else None
    return page, marker


def _start_position(p: dict[str, Any]) -> str | None:
    """CdcStartPosition, or CdcStartTime in its date form; both at once is an error (DMS API)."""
    position = p.get("CdcStartPosition")
    if p.get("CdcStartTime") is not None:
        if position:
            raise InvalidParameterValueException("Specify either CdcStartPosition or CdcStartTime")
        position = start_time_position(p["CdcStartTime"])
    return position


def _check_credentials(p: dict[str, Any], subject: str = "this request also gives") -> None:
    """A secret is used instead of clear-text ServerName / Port / Username / Password: not both (A35)."""
    given = clear_text(p)
    if uses_secret(p) and given:
        raise InvalidParameterCombinationException(
            "Specify either SecretsManagerSecretId (with SecretsManagerAccessRoleArn) or clear-text values for "
            f"ServerName, Port, Username and Password, not both; {subject} {', '.join(given)}"
        )


_IN_USE = ("running", "starting", "stopping")  # a task in these states reads its endpoints (A36)


def _filter_values(params: dict[str, Any]) -> dict[str, list[str]]:
    return {f["Name"]: list(f.get("Values", [])) for f in params.get("Filters") or []}


class DmsBackend:
    def __init__(self, world: World, account_id: str, region: str) -> None:
        self.world = world
        self.account_id = account_id
        self.region = region
        self.instances: dict[str, ReplicationInstance] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.subnet_groups: dict[str, SubnetGroup] = {}
        self.tasks: dict[str, ReplicationTask] = {}
        # tasks deleted through the DMS API, still `deleting` until the datetime (A66)
        self.deleting: dict[str, tuple[ReplicationTask, datetime]] = {}
        self.connections: dict[tuple[str, str], Connection] = {}
        self.subscriptions: dict[str, EventSubscription] = {}
        self.tags: dict[str, dict[str, str]] = {}

    # --- common --------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.world.clock.now()

    def arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:dms:{self.region}:{self.account_id}:{kind}:{resource_id}"

    def sync(self) -> None:
        now = self.now()
        for task in list(self.tasks.values()):
            task.sync(now)
        for arn, (_, gone_at) in list(self.deleting.items()):
            if gone_at <= now:
                del self.deleting[arn]

    def _tag(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        if tags:
            self.tags.setdefault(arn, {}).update({t["Key"]: t.get("Value", "") for t in tags})

    # --- lookups ---------------------------------------------------------------------------
    def task(self, arn: str) -> ReplicationTask:
        self.sync()
        if arn in self.deleting:
            raise InvalidResourceStateFault(f"Replication task {self.deleting[arn][0].identifier} is deleting")
        if arn not in self.tasks:
            raise ResourceNotFoundFault(f"Replication Task {arn} not found")
        return self.tasks[arn]

    def task_by_id(self, identifier: str) -> ReplicationTask | None:
        """The task with this identifier, a `deleting` one included (its identifier is not free yet, A66)."""
        tasks = [*self.tasks.values(), *(t for t, _ in self.deleting.values())]
        return next((t for t in tasks if t.identifier == identifier), None)

    def endpoint_by_arn(self, arn: str) -> Endpoint | None:
        return self.endpoints.get(arn)

    def _endpoint(self, arn: str) -> Endpoint:
        if arn not in self.endpoints:
            raise ResourceNotFoundFault(f"Endpoint {arn} not found")
        return self.endpoints[arn]

    def _instance(self, arn: str) -> ReplicationInstance:
        if arn not in self.instances:
            raise ResourceNotFoundFault(f"Replication Instance {arn} not found")
        return self.instances[arn]

    # --- replication instances --------------------------------------------------------------
    def create_replication_instance(self, p: dict[str, Any]) -> dict[str, Any]:
        require_vpc_role(self.account_id, self.region)
        identifier = p["ReplicationInstanceIdentifier"].lower()
        if any(i.identifier == identifier for i in self.instances.values()):
            raise ResourceAlreadyExistsFault(f"Replication instance {identifier} already exists")
        now = self.now()
        arn = self.arn("rep", p.get("ResourceIdentifier") or _resource_id())
        inst = ReplicationInstance(
            arn=arn, identifier=identifier, instance_class=p["ReplicationInstanceClass"], created_at=now,
            available_at=now + timedelta(seconds=self.world.config.instance_create_seconds), properties=dict(p),
        )
        self.instances[arn] = inst
        self._tag(arn, p.get("Tags"))
        return inst.to_dict(now)

    def modify_replication_instance(self, p: dict[str, Any]) -> dict[str, Any]:
        inst = self._instance(p["ReplicationInstanceArn"])
        for key, value in p.items():
            if key not in ("ReplicationInstanceArn", "ApplyImmediately", "AllowMajorVersionUpgrade"):
                inst.properties[key] = value
        if p.get("ReplicationInstanceClass"):
            inst.instance_class = p["ReplicationInstanceClass"]
        return inst.to_dict(self.now())

    def describe_replication_instances(self, p: dict[str, Any]) -> dict[str, Any]:
        filters = _filter_values(p)
        now = self.now()
        items = [
            i for i in self.instances.values()
            if ("replication-instance-arn" not in filters or i.arn in filters["replication-instance-arn"])
            and ("replication-instance-id" not in filters or i.identifier in filters["replication-instance-id"])
        ]
        page, marker = paginate(items, p, 100)
        return {"ReplicationInstances": [i.to_dict(now) for i in page], **({"Marker": marker} if marker else {})}

    def delete_replication_instance(self, arn: str) -> dict[str, Any]:
        inst = self._instance(arn)
        if any(t.replication_instance_arn == arn for t in self.tasks.values()):
            raise InvalidResourceStateFault(f"Replication instance {inst.identifier} has replication tasks")
        del self.instances[arn]
        self.connections = {k: c for k, c in self.connections.items() if k[0] != arn}
        return inst.to_dict(self.now()) | {"ReplicationInstanceStatus": "deleting"}

    # --- endpoints -----------------------------------------------------------------------------
    def create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        identifier = p["EndpointIdentifier"]
        if any(e.identifier == identifier for e in self.endpoints.values()):
            raise ResourceAlreadyExistsFault(f"Endpoint {identifier} already exists")
        if p.get("EndpointType") not in ("source", "target", "SOURCE", "TARGET"):
            raise InvalidParameterValueException("EndpointType must be source or target")
        _check_credentials(p)
        arn = self.arn("endpoint", p.get("ResourceIdentifier") or _resource_id())
        props = {k: p[k] for k in ENDPOINT_SCALAR_KEYS + ENDPOINT_SETTINGS_KEYS if p.get(k) is not None}
        endpoint = Endpoint(arn, identifier, p["EndpointType"].lower(), p["EngineName"], props)
        self.endpoints[arn] = endpoint
        self._tag(arn, p.get("Tags"))  # no connection test: only TestConnection and ModifyEndpoint run one
        return endpoint.to_dict()

    def modify_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointArn"])
        self.sync()
        busy = sorted(t.identifier for t in self.tasks.values() if t.status in _IN_USE
                      and endpoint.arn in (t.source_endpoint_arn, t.target_endpoint_arn))
        if busy:  # A36
            raise InvalidResourceStateFault(
                f"Endpoint {endpoint.identifier} is used by replication task(s) {', '.join(busy)} that are running; "
                "stop them before modifying the endpoint"
            )
        _check_credentials(p)
        props = dict(endpoint.properties)
        for key in ENDPOINT_SCALAR_KEYS + ENDPOINT_SETTINGS_KEYS:
            if key in p and p[key] is not None:
                if key in ENDPOINT_SETTINGS_KEYS and not p.get("ExactSettings"):  # merged unless ExactSettings
                    props[key] = {**(props.get(key) or {}), **p[key]}
                else:
                    props[key] = p[key]
        if "Password" in p:
            props["Password"] = p["Password"]
        if uses_secret(p):  # the secret is used instead of the clear-text values stored before (A35)
            drop_clear_text(props)
        _check_credentials(props, "the endpoint uses a secret and would also have")
        endpoint.properties = props
        endpoint.identifier = p.get("EndpointIdentifier") or endpoint.identifier
        endpoint.engine_name = p.get("EngineName") or endpoint.engine_name
        instances = {c.instance.arn: c.instance for c in self.connections.values() if c.endpoint is endpoint}
        for task in self.tasks.values():
            if endpoint.arn in (task.source_endpoint_arn, task.target_endpoint_arn):
                if task.replication_instance_arn in self.instances:
                    instances[task.replication_instance_arn] = self.instances[task.replication_instance_arn]
        for inst in instances.values():
            self._start_test(inst, endpoint)
        return endpoint.to_dict()

    def describe_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        filters = _filter_values(p)
        items = [
            e for e in self.endpoints.values()
            if ("endpoint-arn" not in filters or e.arn in filters["endpoint-arn"])
            and ("endpoint-id" not in filters or e.identifier in filters["endpoint-id"])
            and ("endpoint-type" not in filters or e.endpoint_type in [v.lower() for v in filters["endpoint-type"]])
            and ("engine-name" not in filters or e.engine_name in filters["engine-name"])
        ]
        page, marker = paginate(items, p, 100)
        return {"Endpoints": [e.to_dict() for e in page], **({"Marker": marker} if marker else {})}

    def delete_endpoint(self, arn: str) -> dict[str, Any]:
        endpoint = self._endpoint(arn)
        if any(arn in (t.source_endpoint_arn, t.target_endpoint_arn) for t in self.tasks.values()):
            raise InvalidResourceStateFault(f"Endpoint {endpoint.identifier} is used by replication tasks")
        del self.endpoints[arn]
        self.connections = {k: c for k, c in self.connections.items() if k[1] != arn}
        return endpoint.to_dict() | {"Status": "deleting"}

    # --- connections ------------------------------------------------------------------------------
    def _start_test(self, inst: ReplicationInstance, endpoint: Endpoint) -> Connection:
        failure = self.world.faults.take_connection_failure(endpoint.identifier)
        conn = Connection(inst, endpoint, self.now(), self.world.config.connection_test_seconds, failure)
        self.connections[(inst.arn, endpoint.arn)] = conn
        return conn

    def test_connection(self, instance_arn: str, endpoint_arn: str) -> dict[str, Any]:
        inst, endpoint = self._instance(instance_arn), self._endpoint(endpoint_arn)
        running = self.connections.get((inst.arn, endpoint.arn))
        if running is not None and running.status(self.now()) == "testing":
            raise InvalidResourceStateFault("Connection is already being tested")
        conn = self._start_test(inst, endpoint)
        return conn.to_dict(self.now())

    def describe_connections(self, p: dict[str, Any]) -> dict[str, Any]:
        filters = _filter_values(p)
        now = self.now()
        items = [
            c for c in self.connections.values()
            if ("endpoint-arn" not in filters or c.endpoint.arn in filters["endpoint-arn"])
            and ("replication-instance-arn" not in filters or c.instance.arn in filters["replication-instance-arn"])
        ]
        page, marker = paginate(items, p, 100)
        return {"Connections": [c.to_dict(now) for c in page], **({"Marker": marker} if marker else {})}

    # --- subnet groups ---------------------------------------------------------------------------------
    def create_replication_subnet_group(self, p: dict[str, Any]) -> dict[str, Any]:
        require_vpc_role(self.account_id, self.region)
        identifier = p["ReplicationSubnetGroupIdentifier"]
        if identifier in self.subnet_groups:
            raise ResourceAlreadyExistsFault(f"Replication subnet group {identifier} already exists")
        group = SubnetGroup(identifier, p.get("ReplicationSubnetGroupDescription", ""), list(p.get("SubnetIds", [])))
        self.subnet_groups[identifier] = group
        self._tag(self.arn("subgrp", identifier), p.get("Tags"))
        return group.to_dict()

    def modify_replication_subnet_group(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self.subnet_groups.get(p["ReplicationSubnetGroupIdentifier"])
        if group is None:
            raise ResourceNotFoundFault(f"Replication subnet group {p['ReplicationSubnetGroupIdentifier']} not found")
        if p.get("ReplicationSubnetGroupDescription") is not None:
            group.description = p["ReplicationSubnetGroupDescription"]
        if p.get("SubnetIds") is not None:
            group.subnet_ids = list(p["SubnetIds"])
        return group.to_dict()

    def describe_replication_subnet_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        filters = _filter_values(p)
        ids = filters.get("replication-subnet-group-id")
        items = [g for g in self.subnet_groups.values() if ids is None or g.identifier in ids]
        page, marker = paginate(items, p, 100)
        return {"ReplicationSubnetGroups": [g.to_dict() for g in page], **({"Marker": marker} if marker else {})}

    def delete_replication_subnet_group(self, identifier: str) -> None:
        if identifier not in self.subnet_groups:
            raise ResourceNotFoundFault(f"Replication subnet group {identifier} not found")
        del self.subnet_groups[identifier]

    # --- tasks ------------------------------------------------------------------------------------------
    def create_replication_task(self, p: dict[str, Any], via_cloudformation: bool = False) -> dict[str, Any]:
        self.sync()
        identifier = p["ReplicationTaskIdentifier"]
        if self.task_by_id(identifier):
            raise ResourceAlreadyExistsFault(f"Replication task {identifier} already exists")
        for arn in (p["SourceEndpointArn"], p["TargetEndpointArn"]):
            self._endpoint(arn)
        self._instance(p["ReplicationInstanceArn"])
        if p.get("MigrationType") not in ("full-load", "cdc", "full-load-and-cdc"):
            raise InvalidParameterValueException(f"Invalid MigrationType {p.get('MigrationType')}")
        position = _start_position(p)
        check_postgres_start(self.world, self.endpoints[p["SourceEndpointArn"]], p,
                             position if p.get("CdcStartTime") is None else None)  # A37 (the slot: at start)
        now = self.now()
        task = ReplicationTask(
            self,
            arn=self.arn("task", p.get("ResourceIdentifier") or _resource_id()),
            identifier=identifier,
            source_endpoint_arn=p["SourceEndpointArn"],
            target_endpoint_arn=p["TargetEndpointArn"],
            replication_instance_arn=p["ReplicationInstanceArn"],
            migration_type=p["MigrationType"],
            table_mappings=p["TableMappings"],
            task_settings=p.get("ReplicationTaskSettings"),
            now=now,
            ready_after=0.0 if via_cloudformation else self.world.config.task_create_seconds,  # A8
            cdc_start_position=position,
            cdc_stop_position=p.get("CdcStopPosition"),
            task_data=p.get("TaskData"),
        )
        self.tasks[task.arn] = task
        self._tag(task.arn, p.get("Tags"))
        return task.to_dict(now)

    def modify_replication_task(self, p: dict[str, Any], via_cloudformation: bool = False) -> dict[str, Any]:
        task = self.task(p["ReplicationTaskArn"])
        new_id = p.get("ReplicationTaskIdentifier")
        if new_id and new_id != task.identifier and self.task_by_id(new_id):
            raise ResourceAlreadyExistsFault(f"Replication task {new_id} already exists")
        if p.get("CdcStartTime") is not None:
            check_postgres_start(self.world, self.endpoints.get(task.source_endpoint_arn), p, None)  # A37
            p = {k: v for k, v in p.items() if k != "CdcStartTime"} | {"CdcStartPosition": _start_position(p)}
        task.modify(self.now(), p, via_cloudformation)
        return task.to_dict(self.now())

    def start_replication_task(self, p: dict[str, Any]) -> dict[str, Any]:
        task = self.task(p["ReplicationTaskArn"])
        now = self.now()
        for endpoint_arn in (task.source_endpoint_arn, task.target_endpoint_arn):  # documented: see ASSUMPTIONS
            conn = self.connections.get((task.replication_instance_arn, endpoint_arn))
            if conn is None or conn.status(now) != "successful":
                instance = self.instances.get(task.replication_instance_arn)
                endpoint = self.endpoints.get(endpoint_arn)
                raise InvalidResourceStateFault(
                    f"Test connection for replication instance "
                    f"{instance.identifier if instance else task.replication_instance_arn} and endpoint "
                    f"{endpoint.identifier if endpoint else endpoint_arn} should be successful for starting "
                    "the replication task")
        cdc_start = _start_position(p)
        stored = task.cdc_start_position if task.migration_type == "cdc" else None
        from_position = cdc_start if p.get("CdcStartTime") is None else None
        if p["StartReplicationTaskType"] == "start-replication":  # A37, A38
            check_postgres_start(self.world, self.endpoints.get(task.source_endpoint_arn), p, from_position or stored)
        task.start(now, p["StartReplicationTaskType"], cdc_start, p.get("CdcStopPosition"))
        return task.to_dict(now)

    def stop_replication_task(self, arn: str) -> dict[str, Any]:
        task = self.task(arn)
        task.stop(self.now())
        return task.to_dict(self.now())

    def delete_replication_task(self, arn: str, via_cloudformation: bool = False) -> dict[str, Any]:
        """Through the DMS API the task stays `deleting` for task_delete_seconds (its identifier taken, A66);
        CloudFormation's delete handler waits until it is gone (DescribeReplicationTasks), so a stack's
        delete of it completes with the task gone (A13's latency stands in for that wait)."""
        task = self.task(arn)
        task.check_deletable()
        del self.tasks[arn]
        self.tags.pop(arn, None)
        now = self.now()
        if not via_cloudformation and self.world.config.task_delete_seconds > 0:
            self.deleting[arn] = (task, now + timedelta(seconds=self.world.config.task_delete_seconds))
        return task.to_dict(now) | {"Status": "deleting"}

    def reload_tables(self, p: dict[str, Any]) -> dict[str, Any]:
        task = self.task(p["ReplicationTaskArn"])
        refs = [TableRef(t["SchemaName"], t["TableName"]) for t in p.get("TablesToReload", [])]
        task.reload_tables(self.now(), refs)
        return {"ReplicationTaskArn": task.arn}

    def describe_replication_tasks(self, p: dict[str, Any]) -> dict[str, Any]:
        self.sync()
        filters = _filter_values(p)
        checks = {
            "replication-task-arn": lambda t, v: t.arn in v,
            "replication-task-id": lambda t, v: t.identifier in v,
            "migration-type": lambda t, v: t.migration_type in v,
            "endpoint-arn": lambda t, v: t.source_endpoint_arn in v or t.target_endpoint_arn in v,
            "replication-instance-arn": lambda t, v: t.replication_instance_arn in v,
        }
        for name in filters:
            if name not in checks:
                raise InvalidParameterValueException(f"Invalid filter name {name}")
        tasks = [*self.tasks.values(), *(t for t, _ in self.deleting.values())]
        items = [t for t in tasks if all(checks[n](t, v) for n, v in filters.items())]
        page, marker = paginate(items, p, 100)
        now = self.now()
        with_settings = not p.get("WithoutSettings", False)
        return {
            "ReplicationTasks": [t.to_dict(now, with_settings) | ({"Status": "deleting"} if t.arn in self.deleting
                                                                  else {}) for t in page],
            **({"Marker": marker} if marker else {}),
        }

    def describe_table_statistics(self, p: dict[str, Any]) -> dict[str, Any]:
        task = self.task(p["ReplicationTaskArn"])
        filters = _filter_values(p)
        for name in filters:
            if name not in ("schema-name", "table-name", "table-state"):
                raise InvalidParameterValueException(f"Invalid filter name {name}")
        runs = [
            r for r in task.tables.values()
            if ("schema-name" not in filters or r.ref.schema in filters["schema-name"])
            and ("table-name" not in filters or r.ref.table in filters["table-name"])
            and ("table-state" not in filters or r.shown_state in filters["table-state"])
        ]
        page, marker = paginate(runs, p, 500)
        now, rate = self.now(), self.world.config.full_load_rows_per_second
        return {
            "ReplicationTaskArn": task.arn,
            "TableStatistics": [r.statistics(now, rate) for r in page],
            **({"Marker": marker} if marker else {}),
        }

    # --- tags ------------------------------------------------------------------------------------------------
    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        self._tag(arn, tags)

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        for key in keys:
            self.tags.get(arn, {}).pop(key, None)

    def list_tags(self, arns: list[str]) -> list[dict[str, str]]:
        return [
            {"Key": k, "Value": v, "ResourceArn": arn} for arn in arns for k, v in self.tags.get(arn, {}).items()
        ]

    # --- event subscriptions --------------------------------------------------------------------------------
    def create_event_subscription(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["SubscriptionName"]
        if name in self.subscriptions:
            raise ResourceAlreadyExistsFault(f"Event subscription {name} already exists")
        sub = EventSubscription(
            name=name, sns_topic_arn=p["SnsTopicArn"], source_type=p.get("SourceType"),
            event_categories=list(p.get("EventCategories") or []), source_ids=list(p.get("SourceIds") or []),
            enabled=bool(p.get("Enabled", True)), customer_aws_id=self.account_id, created_at=self.now(),
        )
        self.subscriptions[name] = sub
        self._tag(self.arn("es", name), p.get("Tags"))
        return sub.to_dict()

    def _subscription(self, name: str) -> EventSubscription:
        if name not in self.subscriptions:
            raise ResourceNotFoundFault(f"Event subscription {name} not found")
        return self.subscriptions[name]

    def modify_event_subscription(self, p: dict[str, Any]) -> dict[str, Any]:
        sub = self._subscription(p["SubscriptionName"])
        if p.get("SnsTopicArn") is not None:
            sub.sns_topic_arn = p["SnsTopicArn"]
        if p.get("SourceType") is not None:
            sub.source_type = p["SourceType"]
        if p.get("EventCategories") is not None:
            sub.event_categories = list(p["EventCategories"])
        if p.get("Enabled") is not None:
            sub.enabled = bool(p["Enabled"])
        return sub.to_dict()

    def describe_event_subscriptions(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("SubscriptionName")
        items = [self._subscription(name)] if name else list(self.subscriptions.values())
        page, marker = paginate(items, p, 100)
        return {"EventSubscriptionsList": [s.to_dict() for s in page], **({"Marker": marker} if marker else {})}

    def delete_event_subscription(self, name: str) -> dict[str, Any]:
        sub = self._subscription(name)
        del self.subscriptions[name]
        return sub.to_dict() | {"Status": "deleting"}


_refuse_invalid_values(DmsBackend)  # task settings, instance class, storage DMS refuses (A56-A58)
