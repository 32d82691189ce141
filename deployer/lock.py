"""The account-and-environment-wide deploy lock, and run records, in the base stack's state table.

One DynamoDB item per environment (pk "lock#<env>", sk "lock") written with a conditional put:
it succeeds only when no lock exists or the existing one has expired. The item names its owner,
run id, start time and expiry. Release deletes it only if it is still ours. `dmsctl unlock --id`
removes a lock a dead run left behind.

The table lives in the base stack, so on the very first deploy into an empty account there is no
table yet: the lock is taken as soon as the base stack exists (until then, CloudFormation itself
refuses a second CreateStack of the same name).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmsctl.deployer.errors import AwsError, DmsctlError
from dmsctl.deployer.gateway import Gateway

DEFAULT_TTL = 6 * 3600


class LockHeld(DmsctlError):
    pass


class LockLost(DmsctlError):
    """Our lock expired and another run took it, or someone removed it (dmsctl unlock)."""


@dataclass(frozen=True)
class LockInfo:
    run_id: str
    owner: str
    acquired_at: int
    expires_at: int

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.acquired_at))
        expires = time.strftime("%H:%M:%S UTC", time.gmtime(self.expires_at))
        return f"run {self.run_id} by {self.owner}, since {started} (expires {expires})"


def default_owner() -> str:
    who = os.environ.get("GITHUB_ACTOR") or getpass.getuser()
    where = os.environ.get("GITHUB_RUN_ID")
    return f"{who}@{'github-run-' + where if where else socket.gethostname()}"


class Lock:
    def __init__(self, gw: Gateway, table: str, env: str, now: Callable[[], float] = time.time):
        self.gw, self.table, self.env, self.now = gw, table, env, now
        self.key = {"pk": {"S": f"lock#{env}"}, "sk": {"S": "lock"}}
        self.held: LockInfo | None = None

    def table_exists(self) -> bool:
        try:
            self.gw.call("dynamodb", "describe_table", resource=f"table {self.table}", TableName=self.table)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                return False
            raise
        return True

    def current(self) -> LockInfo | None:
        item = self.gw.call("dynamodb", "get_item", resource=f"table {self.table}", TableName=self.table,
                            Key=self.key, ConsistentRead=True).get("Item")
        if not item:
            return None
        return LockInfo(item["run_id"]["S"], item["owner"]["S"], int(item["acquired_at"]["N"]),
                        int(item["expires_at"]["N"]))

    def acquire(self, run_id: str, owner: str, ttl: int = DEFAULT_TTL) -> LockInfo:
        now = int(self.now())
        info = LockInfo(run_id, owner, now, now + ttl)
        item = dict(self.key, run_id={"S": run_id}, owner={"S": owner}, acquired_at={"N": str(now)},
                    expires_at={"N": str(now + ttl)})
        try:
            self.gw.call("dynamodb", "put_item", resource=f"lock {self.env}", TableName=self.table, Item=item,
                         ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                         ExpressionAttributeValues={":now": {"N": str(now)}})
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                holder = self.current()
                who = holder.describe() if holder else "another run"
                raise LockHeld(f"another deploy holds the {self.env} lock: {who}. Wait for it, or if that run "
                               f"is dead: dmsctl unlock --env {self.env} --id {holder.run_id if holder else 'ID'}") \
                    from None
            raise
        self.held = info
        return info

    def renew(self, ttl: int = DEFAULT_TTL) -> LockInfo:
        """Push our lock's expiry to now + ttl; LockLost if it is no longer ours."""
        if self.held is None:
            raise LockLost(f"the {self.env} lock is not held by this run")
        expires = int(self.now()) + ttl
        try:
            self.gw.call("dynamodb", "update_item", resource=f"lock {self.env}", TableName=self.table, Key=self.key,
                         UpdateExpression="SET expires_at = :exp", ConditionExpression="run_id = :me",
                         ExpressionAttributeValues={":exp": {"N": str(expires)}, ":me": {"S": self.held.run_id}})
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                holder = self.current()
                now = f"it is now held by {holder.describe()}" if holder else "it was removed"
                self.held = None
                raise LockLost(f"this run lost the {self.env} lock: {now}") from None
            raise
        self.held = LockInfo(self.held.run_id, self.held.owner, self.held.acquired_at, expires)
        return self.held

    def release(self) -> None:
        if self.held is None:
            return
        try:
            self.gw.call("dynamodb", "delete_item", resource=f"lock {self.env}", TableName=self.table, Key=self.key,
                         ConditionExpression="run_id = :me",
                         ExpressionAttributeValues={":me": {"S": self.held.run_id}})
        except AwsError as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
        self.held = None

    def force_release(self, run_id: str) -> bool:
        """Remove the lock only if it belongs to `run_id`. Returns whether one was removed."""
        try:
            self.gw.call("dynamodb", "delete_item", resource=f"lock {self.env}", TableName=self.table, Key=self.key,
                         ConditionExpression="run_id = :id", ExpressionAttributeValues={":id": {"S": run_id}})
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_run(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a record of what a run did (who, when, what changed), for 'what changed overnight?'."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))
        self.gw.call("dynamodb", "put_item", resource=f"table {self.table}", TableName=self.table,
                     Item={"pk": {"S": f"run#{self.env}"}, "sk": {"S": f"{stamp}#{run_id}"},
                           "record": {"S": json.dumps(record, sort_keys=True)}})
