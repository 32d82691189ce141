"""The one door to AWS. Nothing else in dmsctl imports boto3.

- Clients are built once per service, with botocore's retry mode (adaptive by default: DMS
  throttles at a few requests per second per account) and a bounded number of attempts.
- In read-only mode (plan), any operation that is not a read is refused *before* it is sent, both
  in `call` and by a botocore `before-call` hook on every client, so no code path can slip past.
- Errors become `AwsError` naming the operation and the resource; throttling that outlasts the
  retries says so.
- Every call is counted by operation (`calls`), so benchmarks and tests can observe plan cost.
- Where to send requests is ordinary boto3 configuration: `endpoint_url`, or AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from dmsctl.deployer.errors import AwsError, ReadOnlyViolation

READ_PREFIXES = ("Describe", "List", "Get", "Head")
# Reads whose names do not start with a read prefix, each with its justification. DynamoDB Query
# only reads items (`dmsctl checkpoints` / `metrics`). DMS TestConnection, CloudFormation change sets
# and ValidateTemplate are deliberately not here: they create state or can be executed later.
READ_OPERATIONS: frozenset[str] = frozenset({"Query"})
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
                              "TooManyRequestsException", "SlowDown", "RequestThrottled"})


T = TypeVar("T")


def _never_failed(_result: object) -> str | None:
    return None


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
        try:
            self._session = boto3.session.Session(region_name=region, profile_name=profile)
        except botocore.exceptions.ProfileNotFound:
            raise AwsError(f"AWS profile {profile!r} not found: check --profile / AWS_PROFILE against "
                           "~/.aws/config (or AWS_CONFIG_FILE)") from None
        self._config = botocore.config.Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                                              connect_timeout=10, read_timeout=60, user_agent_extra="dmsctl")
        self._clients: dict[str, Any] = {}  # boto3 clients (untyped)
        self._lock = threading.Lock()

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
             failed: Callable[[T], str | None] = _never_failed) -> T:
        """Call `describe` until `done(result)`, with exponential backoff, up to `timeout` seconds, and
        return that result (of `describe`'s type).

        `failed(result)` may return a reason to stop early. Raises AwsError on timeout or failure;
        the timeout is the caller's (users can raise it), never a fixed waiter default.
        """
        start = self.monotonic()
        delay = first_delay
        while True:
            result = describe()
            if done(result):
                return result
            reason = failed(result)
            if reason:
                raise AwsError(f"{what}: {reason}")
            if self.monotonic() - start >= timeout:
                raise AwsError(f"timed out after {timeout:.0f} s waiting for {what} (raise it with --timeout)")
            self.sleep(delay)
            delay = min(max_delay, delay * 1.5)


def _about(resource: str) -> str:
    return f" for {resource}" if resource else ""
