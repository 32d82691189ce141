"""The one door to AWS. Nothing else in dmsctl imports boto3.

- Clients are built once per service, with botocore's retry mode (adaptive by default: DMS
  throttles at a few requests per second per account) and a bounded number of attempts.
- In read-only mode (plan), any operation that is not a read is refused *before* it is sent, both
  in `call` and by a botocore `before-call` hook on every client, so no code path can slip past.
- Errors become `AwsError` naming the operation and the resource; throttling that outlasts the
  retries says so.
- Every call is counted by operation (`calls`), so benchmarks and tests can observe plan cost.
- Every wait (`poll`), from any thread, goes through one poller, which reads what several waits share
  once a round (the tasks of stacks deploying in parallel), so `--parallel` does not multiply calls.
- Where to send requests is ordinary boto3 configuration: `endpoint_url`, or AWS_ENDPOINT_URL.
- Timestamps in responses are parsed to UTC datetimes (`utc_timestamp`): botocore's default converts
  each to the local zone through dateutil, a third of the CPU of reading 600 task descriptions.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
import botocore.utils

from dmsctl.deployer.errors import AwsError, ReadOnlyViolation

READ_PREFIXES = ("Describe", "List", "Get", "Head")
# Reads whose names do not start with a read prefix, each with its justification. DynamoDB Query
# only reads items (`dmsctl checkpoints` / `metrics`). DMS TestConnection, CloudFormation change sets
# and ValidateTemplate are deliberately not here: they create state or can be executed later.
READ_OPERATIONS: frozenset[str] = frozenset({"Query"})
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
                              "TooManyRequestsException", "SlowDown", "RequestThrottled"})


T = TypeVar("T")
POLL_SLICE = 1.0  # seconds: the poller sleeps at most this long before it looks again at what is due


def _never_failed(_result: object) -> str | None:
    return None


def utc_timestamp(value: object) -> datetime:
    """A response timestamp as an aware UTC datetime: epoch seconds (the JSON protocols: DMS, Step
    Functions) and ISO 8601 (the query protocols: CloudFormation) directly, anything else (RFC 822)
    by botocore's own parser. The same instant as botocore's default gives, in UTC rather than the
    machine's zone (nothing in dmsctl reads the zone)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    fallback: datetime = botocore.utils.parse_timestamp(value)
    return fallback.astimezone(UTC)


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


class Gateway:
    def __init__(self, region: str, *, read_only: bool, endpoint_url: str | None = None,
                 max_attempts: int = 8, retry_mode: str = "adaptive", profile: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.region = region
        self.read_only = read_only
        self.sleep = sleep
        self.monotonic = monotonic
        self.calls: Counter[str] = Counter()
        self._endpoint_url = endpoint_url
        self._max_attempts = max_attempts
        core = botocore.session.get_session()
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
        try:
            self._session = boto3.session.Session(botocore_session=core, region_name=region, profile_name=profile)
        except botocore.exceptions.ProfileNotFound:
            raise AwsError(f"AWS profile {profile!r} not found: check --profile / AWS_PROFILE against "
                           "~/.aws/config (or AWS_CONFIG_FILE)") from None
        self._config = botocore.config.Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                                              connect_timeout=10, read_timeout=60, user_agent_extra="dmsctl")
        self._clients: dict[str, Any] = {}  # boto3 clients (untyped)
        self._lock = threading.Lock()
        self._poll_cond = threading.Condition()  # the poller (`poll`): its waits and who looks for them
        self._waiters: list[_Waiter] = []
        self._driving = False

    # -- clients -------------------------------------------------------------------------------
    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._session.client(service, config=self._config, endpoint_url=self._endpoint_url)
                client.meta.events.register("before-call.*.*", self._guard)
                self._clients[service] = client
            return client

    def _guard(self, model: Any, **_kwargs: Any) -> None:
        """botocore hook: the last line of defence for read-only mode."""
        if self.read_only and not is_read(model.name):
            raise ReadOnlyViolation(f"plan mode is read-only: refused {model.service_model.service_name}:{model.name}")

    def _operation_name(self, service: str, method: str) -> str:
        name: str = self._client(service).meta.method_to_api_mapping.get(method, method)
        return name

    def check_allowed(self, service: str, method: str) -> None:
        op = self._operation_name(service, method)
        if self.read_only and not is_read(op):
            raise ReadOnlyViolation(f"plan mode is read-only: refused {service}:{op}")

    # -- calls ---------------------------------------------------------------------------------
    def call(self, service: str, method: str, *, resource: str = "", **params: Any) -> dict[str, Any]:
        """Call `service.method(**params)` (snake_case method, e.g. describe_replication_tasks)."""
        self.check_allowed(service, method)
        op = self._operation_name(service, method)
        self.calls[f"{service}:{op}"] += 1
        try:
            response: dict[str, Any] = getattr(self._client(service), method)(**params)
            return response
        except botocore.exceptions.ClientError as exc:
            raise self._translate(exc, service, op, resource) from None
        except botocore.exceptions.NoCredentialsError:
            raise AwsError("no AWS credentials found: configure a profile or environment credentials "
                           "(for the sandbox: see `dmsctl sandbox serve`)", operation=op) from None
        except botocore.exceptions.EndpointConnectionError as exc:
            raise AwsError(f"cannot reach AWS ({exc.kwargs.get('endpoint_url', 'endpoint')}): check the network "
                           "or AWS_ENDPOINT_URL", operation=op, resource=resource) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(f"{service}:{op} failed{_about(resource)}: {exc}", operation=op, resource=resource) from None

    def paginate(self, service: str, method: str, result_key: str, *, resource: str = "",
                 **params: Any) -> list[Any]:
        """All items of a paginated operation, one counted call per page."""
        self.check_allowed(service, method)
        op = self._operation_name(service, method)
        client = self._client(service)
        items: list[Any] = []
        try:
            for page in client.get_paginator(method).paginate(**params):
                self.calls[f"{service}:{op}"] += 1
                items.extend(page.get(result_key, []))
        except botocore.exceptions.ClientError as exc:
            raise self._translate(exc, service, op, resource) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(f"{service}:{op} failed{_about(resource)}: {exc}", operation=op, resource=resource) from None
        return items

    def _translate(self, exc: botocore.exceptions.ClientError, service: str, op: str, resource: str) -> AwsError:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Unknown"), err.get("Message", str(exc))
        if code in THROTTLING_CODES:
            return AwsError(f"AWS kept throttling {service}:{op}{_about(resource)} after {self._max_attempts} "
                            "attempts; nothing was changed by this call: retry later", operation=op, resource=resource,
                            code=code)
        return AwsError(f"{service}:{op} failed{_about(resource)}: {code}: {message}", operation=op,
                        resource=resource, code=code)

    # -- waiting -------------------------------------------------------------------------------
    def poll(self, describe: Callable[[], T], done: Callable[[T], bool], *, what: str,
             timeout: float, first_delay: float = 2.0, max_delay: float = 30.0,
             failed: Callable[[T], str | None] = _never_failed, late: float = 0.0,
             shared: Shared | None = None, look_now: bool = True) -> T:
        """Call `describe` until `done(result)`, with exponential backoff, up to `timeout` seconds, and
        return that result (of `describe`'s type).

        `failed(result)` may return a reason to stop early. Raises AwsError on timeout or failure;
        the timeout is the caller's (users can raise it), never a fixed waiter default. `late` > 0 keeps
        each wait between two looks under that fraction of the time waited so far (at least
        `first_delay`, at most `max_delay`): a wait that ends after T seconds is seen at most about
        late x T after it ended.

        Every wait of this gateway, from any thread, goes through one poller: one thread at a time
        sleeps until the next look is due and makes the looks that are due, for every wait. Waits with
        the same `shared.group` are read together, in one `shared.fetch` of all their keys (one
        DescribeReplicationTasks for the tasks of every stack deploying in parallel), so parallel waits
        do not multiply the calls, and on a simulated clock their sleeps do not add up.
        """
        now = self.monotonic()
        waiter = _Waiter(describe, done, failed, what, timeout, first_delay, max_delay, late, shared,
                         start=now, due=now if look_now else now + first_delay, delay=first_delay)
        result: T = self._wait(waiter)
        return result

    def _wait(self, waiter: _Waiter) -> Any:
        with self._poll_cond:
            self._waiters.append(waiter)
            try:
                while not waiter.finished:
                    if self._driving:  # another thread looks for everyone: wait for its next round
                        self._poll_cond.wait()
                        continue
                    self._driving = True
                    self._poll_cond.release()
                    try:
                        self._round()
                    finally:
                        self._poll_cond.acquire()
                        self._driving = False
                        self._poll_cond.notify_all()
            finally:
                self._waiters.remove(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def _round(self) -> None:
        """Sleep until the earliest look is due, then make every look that is due (shared reads once)."""
        with self._poll_cond:
            waiting = [w for w in self._waiters if not w.finished]
        if not waiting:
            return
        pause = min(w.due for w in waiting) - self.monotonic()
        if pause > 0:  # in slices: a wait that begins meanwhile and is due sooner is not kept waiting
            self.sleep(min(pause, POLL_SLICE))
        now = self.monotonic()
        with self._poll_cond:
            waiting = [w for w in self._waiters if not w.finished]  # waits that began during the sleep too
        due = [w for w in waiting if w.due <= now + 1e-9]
        if not due:
            return
        groups: dict[str, list[_Waiter]] = {}
        for w in waiting:
            if w.shared is not None:
                groups.setdefault(w.shared.group, []).append(w)
        for members in groups.values():
            if not any(w in due for w in members):
                continue
            keys = tuple(dict.fromkeys(k for w in members for k in w.shared.keys))  # type: ignore[union-attr]
            try:
                data = members[0].shared.fetch(keys)  # type: ignore[union-attr]
            except Exception as exc:  # noqa: BLE001 - the read failed for each of them
                for w in members:
                    w.fail(exc)
                continue
            at = self.monotonic()
            for w in members:  # every member sees the fresh read and counts it as its look: their schedules
                w.look({k: data[k] for k in w.shared.keys if k in data},  # type: ignore[union-attr]
                       at, scheduled=True)  # line up, so the next round is one read for all of them again
        for w in due:
            if w.shared is None and not w.finished:
                try:
                    result = w.describe()
                except Exception as exc:  # noqa: BLE001 - the caller's describe failed: its wait fails
                    w.fail(exc)
                    continue
                w.look(result, self.monotonic(), scheduled=True)


@dataclass(frozen=True)
class Shared:
    """A read several waits can make at once: waits naming the same `group` are answered by one
    `fetch(keys of them all)`, which returns key -> value (keys it does not return are absent)."""

    group: str
    keys: tuple[str, ...]
    fetch: Callable[[tuple[str, ...]], dict[str, Any]]


class _Waiter:
    """One wait of `Gateway.poll`: its schedule and, once finished, its result or error."""

    def __init__(self, describe: Callable[[], Any], done: Callable[[Any], bool],
                 failed: Callable[[Any], str | None], what: str, timeout: float, first_delay: float,
                 max_delay: float, late: float, shared: Shared | None, *, start: float, due: float,
                 delay: float) -> None:
        self.describe, self.done, self.failed, self.what = describe, done, failed, what
        self.timeout, self.first_delay, self.max_delay, self.late = timeout, first_delay, max_delay, late
        self.shared, self.start, self.due, self.delay = shared, start, due, delay
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        self.error, self.finished = exc, True

    def look(self, result: Any, now: float, *, scheduled: bool) -> None:
        if self.done(result):
            self.result, self.finished = result, True
            return
        reason = self.failed(result)
        if reason:
            self.fail(AwsError(f"{self.what}: {reason}"))
        elif now - self.start >= self.timeout:
            self.fail(AwsError(f"timed out after {self.timeout:.0f} s waiting for {self.what} (raise it with "
                               "--timeout)"))
        elif scheduled:
            if self.late > 0:
                self.delay = min(self.max_delay, max(self.first_delay, self.late * (now - self.start)))
            self.due = now + self.delay
            if self.late <= 0:
                self.delay = min(self.max_delay, self.delay * 1.5)


def _about(resource: str) -> str:
    return f" for {resource}" if resource else ""
