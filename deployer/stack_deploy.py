"""Deploy one stack through a change set and wait for it, reporting stack events as they come.

Two halves: `create_change_set` (before any task is stopped) and `execute` (with them stopped). Waiting
for a stack reads its events only (DescribeStackEvents): its own events carry its status.

Templates over CloudFormation's 51,200-byte inline limit are uploaded to the artifacts bucket
under a key named by their hash (`_dmsctl/templates/<stack>/<sha256>.json`, so an upload never
overwrites different content) and passed by URL. A change set with no changes is not an error.
A failed update rolls back; the failure reason comes from the stack events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dmsctl.compiler.limits import TEMPLATE_INLINE_MAX
from dmsctl.deployer.errors import AwsError, DmsctlError
from dmsctl.deployer.gateway import Gateway

NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
OK_FINAL = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"})
FAILED_FINAL = frozenset({"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                          "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED"})
CAPABILITIES = ["CAPABILITY_IAM"]
STACK_TYPE = "AWS::CloudFormation::Stack"


class StackFailure(DmsctlError):
    def __init__(self, message: str, stack: str, status: str, reason: str):
        super().__init__(message)
        self.stack, self.status, self.reason = stack, status, reason


@dataclass(frozen=True)
class StackEvent:
    stack: str
    logical_id: str
    resource_type: str
    status: str
    reason: str
    event_id: str


def template_argument(gw: Gateway, stack: str, body: str, sha: str, bucket: str, region: str) -> dict[str, str]:
    if len(body.encode()) <= TEMPLATE_INLINE_MAX:
        return {"TemplateBody": body}
    key = f"_dmsctl/templates/{stack}/{sha}.json"
    try:
        gw.call("s3", "head_object", resource=f"s3://{bucket}/{key}", Bucket=bucket, Key=key)
    except AwsError as exc:
        if exc.code not in ("404", "NoSuchKey", "NotFound"):
            raise
        gw.call("s3", "put_object", resource=f"s3://{bucket}/{key}", Bucket=bucket, Key=key, Body=body.encode(),
                ContentType="application/json")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


def stack_status(gw: Gateway, stack: str) -> str | None:
    try:
        stacks = gw.call("cloudformation", "describe_stacks", resource=f"stack {stack}", StackName=stack)["Stacks"]
    except AwsError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status: str | None = stacks[0]["StackStatus"] if stacks else None
    return status


class EventTail:
    """New stack events since the deploy started, oldest first (all of them kept in `events`).

    DescribeStackEvents returns a stack's whole history, newest first, a page at a time (NextToken):
    each read follows the pages only until it meets an event already seen, so a long history costs one
    call, and the events of a busy operation spread over several pages are all read."""

    def __init__(self, gw: Gateway, stack: str):
        self.gw, self.stack = gw, stack
        self.seen: set[str] = set()
        self.events: list[StackEvent] = []
        self.status = ""  # the stack's status in its newest own event since priming ("" before any)
        self.gone = False  # the stack does not exist (any more)
        self.prime()

    def prime(self) -> None:
        self.seen |= {e.event_id for e in self._newer(first_page_only=True)}

    def _newer(self, first_page_only: bool = False) -> list[StackEvent]:
        """Events newer than every seen one, newest first. Priming reads the first page only: it needs
        just the newest events, everything older is older still."""
        out: list[StackEvent] = []
        token: str | None = None
        while True:
            params = {"NextToken": token} if token else {}
            try:
                page = self.gw.call("cloudformation", "describe_stack_events", resource=f"stack {self.stack}",
                                    StackName=self.stack, **params)
            except AwsError as exc:
                if "does not exist" in str(exc):
                    self.gone = True
                    return out
                raise
            for r in page.get("StackEvents", []):
                if r["EventId"] in self.seen:
                    return out
                out.append(StackEvent(self.stack, r.get("LogicalResourceId", ""), r.get("ResourceType", ""),
                                      r.get("ResourceStatus", ""), r.get("ResourceStatusReason", "") or "",
                                      r["EventId"]))
            token = page.get("NextToken")
            if not token or first_page_only:
                return out

    def new(self) -> list[StackEvent]:
        fresh = self._newer()
        self.seen |= {e.event_id for e in fresh}
        fresh.reverse()
        self.events += fresh
        for e in fresh:
            if e.resource_type == STACK_TYPE and e.logical_id == self.stack:
                self.status = e.status
        return fresh


def first_failure(events: list[StackEvent]) -> str:
    """The cause of a failed operation, from its own events (oldest first): the first resource that
    failed, else the reason the stack gives for rolling back or failing ("User Initiated" is none)."""
    for e in events:
        if e.status.endswith("_FAILED") and e.reason and "cancelled" not in e.reason.lower():
            return f"{e.logical_id} ({e.resource_type}): {e.reason}"
    return next((e.reason for e in events if e.reason and e.reason != "User Initiated"),
                "no reason in the stack events")


@dataclass(frozen=True)
class ChangeSet:
    """A change set created and ready to execute (`arn`), or CloudFormation's "no changes" (`arn` None:
    already deleted). `changes`: DescribeChangeSet's Changes, every page. `tail`: the stack's events,
    primed when the change set was ready, so executing it makes no read first."""

    stack: str
    change_type: str  # CREATE | UPDATE
    arn: str | None
    changes: tuple[dict[str, Any], ...] = ()
    tail: EventTail | None = field(default=None, compare=False)

    @property
    def empty(self) -> bool:
        return self.arn is None


def create_change_set(gw: Gateway, stack: str, argument: dict[str, str], tags: list[dict[str, str]], run_id: str,
                      timeout: float, must_create: bool = False, role_arn: str | None = None) -> ChangeSet:
    """Create a change set and wait until CloudFormation has computed it. Nothing is deployed: apply
    creates it before stopping any task, so the seconds (on AWS, tens of seconds) CloudFormation takes
    are not spent with replication stopped, and checks its Changes against the plan.

    `must_create`: the plan found no such stack and no lock guards this deploy (a first deploy, before the
    state table exists): if the stack exists now, another run created it since the plan, and this one
    stops before changing it. Of two runs creating it, CloudFormation executes one change set only.
    `role_arn`: the role CloudFormation deploys with (the bootstrap stack's service role)."""
    status = stack_status(gw, stack)
    if status == "REVIEW_IN_PROGRESS":
        status = None
    if must_create and status is not None:
        raise StackFailure(f"stack {stack} was created by another run since this plan was made ({status}): "
                           "another first deploy of this environment is under way; nothing was changed. "
                           "Plan again when it has finished", stack, status, "created meanwhile")
    change_type = "CREATE" if status is None else "UPDATE"
    name = f"dmsctl-{run_id}-{uuid.uuid4().hex[:6]}"
    arn: str = gw.call("cloudformation", "create_change_set", resource=f"stack {stack}", StackName=stack,
                       ChangeSetName=name, ChangeSetType=change_type, Capabilities=CAPABILITIES, Tags=tags,
                       **argument, **({"RoleARN": role_arn} if role_arn else {}))["Id"]
    try:
        cs = gw.poll(lambda: gw.call("cloudformation", "describe_change_set", resource=f"stack {stack}",
                                     ChangeSetName=arn, StackName=stack),
                     lambda r: r["Status"] in ("CREATE_COMPLETE", "FAILED"), what=f"change set for {stack}",
                     timeout=timeout, first_delay=1, max_delay=10.0)
    except Exception:  # interrupted (or timed out) while CloudFormation computes it: not to be executed
        try:
            delete_change_set(gw, stack, arn)
        except DmsctlError:
            pass  # left unexecuted: it changes nothing
        raise
    if cs["Status"] == "FAILED":
        reason = cs.get("StatusReason", "")
        if any(marker in reason for marker in NO_CHANGES):
            delete_change_set(gw, stack, arn)
            return ChangeSet(stack, change_type, None)
        raise StackFailure(f"stack {stack}: change set failed: {reason}", stack, "FAILED", reason)
    changes = list(cs.get("Changes", []))
    token = cs.get("NextToken")
    while token:  # a change set of many resources comes in pages
        page = gw.call("cloudformation", "describe_change_set", resource=f"stack {stack}", ChangeSetName=arn,
                       StackName=stack, NextToken=token)
        changes += page.get("Changes", [])
        token = page.get("NextToken")
    return ChangeSet(stack, change_type, arn, tuple(changes), EventTail(gw, stack))


def delete_change_set(gw: Gateway, stack: str, arn: str) -> None:
    gw.call("cloudformation", "delete_change_set", resource=f"stack {stack}", ChangeSetName=arn, StackName=stack)


def execute(gw: Gateway, cs: ChangeSet, timeout: float, on_event: Callable[[StackEvent], None],
            max_delay: float = 30.0, before_execute: Callable[[], None] | None = None, first_delay: float = 2.0,
            late: float = 0.0) -> str:
    """Execute a change set and wait for the stack; returns "created", "updated" or "unchanged" (no
    changes: nothing to execute). `max_delay`, `first_delay`, `late` pace the wait (tighter while the
    stack's tasks are stopped: a late look lengthens their stop). `before_execute` runs right before the
    change set is executed and may raise to stop there (apply's interruption check)."""
    if cs.arn is None:
        return "unchanged"
    tail = cs.tail or EventTail(gw, cs.stack)
    if before_execute is not None:
        before_execute()
    gw.call("cloudformation", "execute_change_set", resource=f"stack {cs.stack}", ChangeSetName=cs.arn,
            StackName=cs.stack)
    final = wait_stack(gw, cs.stack, tail, timeout, on_event, max_delay, first_delay=first_delay, late=late)
    if final not in OK_FINAL:
        for e in tail.new():
            on_event(e)
        reason = first_failure(tail.events)  # this deploy's events only: older failures are history
        raise StackFailure(_failure_message(cs.stack, final, reason), cs.stack, final, reason)
    return "created" if cs.change_type == "CREATE" else "updated"


def deploy(gw: Gateway, stack: str, argument: dict[str, str], tags: list[dict[str, str]], run_id: str, timeout: float,
           on_event: Callable[[StackEvent], None], max_delay: float = 30.0,
           before_execute: Callable[[], None] | None = None, must_create: bool = False,
           role_arn: str | None = None) -> str:
    """Create a change set and execute it at once; returns "created", "updated" or "unchanged"."""
    cs = create_change_set(gw, stack, argument, tags, run_id, timeout, must_create=must_create, role_arn=role_arn)
    return execute(gw, cs, timeout, on_event, max_delay, before_execute)


def _failure_message(stack: str, status: str, reason: str) -> str:
    if status == "UPDATE_ROLLBACK_FAILED":
        return (f"stack {stack} is UPDATE_ROLLBACK_FAILED ({reason}). Next: fix the resource named, then run "
                f"`aws cloudformation continue-update-rollback --stack-name {stack}` and `dmsctl apply` again")
    if status == "ROLLBACK_COMPLETE":
        return (f"stack {stack} failed to create and rolled back ({reason}). Next: delete it "
                f"(`aws cloudformation delete-stack --stack-name {stack}`), fix the cause, apply again")
    return f"stack {stack} update failed and rolled back to its previous state ({status}): {reason}"


def wait_stack(gw: Gateway, stack: str, tail: EventTail, timeout: float,
               on_event: Callable[[StackEvent], None], max_delay: float = 30.0, *, first_delay: float = 2.0,
               late: float = 0.0) -> str:
    """Wait for the operation under way to finish, reading DescribeStackEvents only: the stack's own
    events (AWS::CloudFormation::Stack, logical id = its name) carry its status. A stack that no longer
    exists was deleted."""
    def status() -> str:
        for e in tail.new():
            on_event(e)
        return "DELETE_COMPLETE" if tail.gone else tail.status

    return gw.poll(status, lambda s: s in OK_FINAL or s in FAILED_FINAL, what=f"stack {stack}", timeout=timeout,
                   first_delay=first_delay, max_delay=max_delay, late=late, look_now=False)


def delete(gw: Gateway, stack: str, timeout: float, on_event: Callable[[StackEvent], None],
           role_arn: str | None = None) -> None:
    tail = EventTail(gw, stack)
    gw.call("cloudformation", "delete_stack", resource=f"stack {stack}", StackName=stack,
            **({"RoleARN": role_arn} if role_arn else {}))
    final = wait_stack(gw, stack, tail, timeout, on_event)
    if final != "DELETE_COMPLETE":
        for e in tail.new():
            on_event(e)
        reason = first_failure(tail.events)
        raise StackFailure(f"stack {stack} could not be deleted ({final}): {reason}", stack, final, reason)
