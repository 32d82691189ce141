"""Fixtures of the conformance suite: `account` is the in-process sandbox by default, or with --aws a scratch
prefix of a real account (see docs/ASSUMPTIONS.md, "Checking the assumptions against a real account").

The options are registered here: pass the folder, `pytest tests/conformance --aws ...`. At the end of a run
the terminal summary lists, per check id (assumption or documented rule), whether it held or diverged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from . import aws
from .account import LARGE_TABLE_ROWS, SMALL_TABLE_ROWS, Account, Cleanup, Infra, Source
from .checks import DIVERGED, GAP, HELD, NOT_CHECKED, XPASS, Outcome, summary_lines
from .provision import Provisioner, provision

OUTCOMES = pytest.StashKey[list[Outcome]]()
LEFT_BEHIND = pytest.StashKey[list[str]]()
WHERE = pytest.StashKey[str]()
SANDBOX_SOURCE = Source(
    endpoint={"EngineName": "mysql", "ServerName": "source.sandbox.invalid", "Port": 3306, "Username": "dms",
              "Password": "sandbox", "DatabaseName": "app"},
    schema="app", tables=("users", "orders"), large_table="events", reachable=True)
SANDBOX_POLL_SECONDS = 5.0  # sim seconds
AWS_POLL_SECONDS = 15.0


def pytest_addoption(parser: pytest.Parser) -> None:
    aws.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[OUTCOMES] = []
    config.stash[LEFT_BEHIND] = []
    config.stash[WHERE] = "the in-process sandbox"
    opts = aws.options(config)  # UsageError (a clear message, no traceback) when --aws cannot run
    if opts is not None:
        config.stash[WHERE] = f"AWS ({opts.region}, prefix {opts.prefix})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return aws.cost_lines() if config.getoption("--aws") else []


# --- outcomes per check id ---------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("conformance")
    if marker is None or (report.when != "call" and not (report.failed or report.skipped)):
        return
    if report.when == "call" and report.passed:
        result, detail = HELD, ""
    elif report.when == "call" and report.skipped and hasattr(report, "wasxfail"):
        result, detail = GAP, str(report.wasxfail)
    elif report.when == "call" and report.failed and call.excinfo is None:
        result, detail = XPASS, "passes: remove its xfail marker"
    elif report.when == "call" and report.failed and call.excinfo.errisinstance(AssertionError):
        result, detail = DIVERGED, str(call.excinfo.value).strip().splitlines()[0][:300] if str(
            call.excinfo.value).strip() else "assertion failed"
    elif report.skipped:
        result, detail = NOT_CHECKED, str(report.longrepr[2] if isinstance(report.longrepr, tuple) else "")
    elif report.when == "teardown":
        return  # a cleanup failure is an error of the test, not of the check (listed as left behind)
    else:
        text = str(call.excinfo.value) if call.excinfo else ""
        result, detail = NOT_CHECKED, f"error in {report.when}: {text.strip().splitlines()[0][:300] if text else ''}"
    outcomes = item.config.stash[OUTCOMES]
    outcomes.extend(Outcome(check, result, item.name, detail) for check in marker.args)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    outcomes, left = config.stash.get(OUTCOMES, []), config.stash.get(LEFT_BEHIND, [])
    if outcomes:
        terminalreporter.section("conformance: assumptions and documented rules")
        for line in summary_lines(outcomes, config.stash[WHERE]):
            terminalreporter.write_line(line)
    if left:
        terminalreporter.section("conformance: NOT deleted, delete by hand", red=True)
        for line in left:
            terminalreporter.write_line(f"  {line}")


def _finish(config: pytest.Config, cleanup: Cleanup) -> None:
    left = cleanup.run()
    config.stash[LEFT_BEHIND].extend(left)
    if left:
        raise AssertionError("cleanup left resources behind: " + "; ".join(left))


# --- the account -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsScratch:
    session: boto3.Session
    infra: Infra
    source: Source
    prefix: str
    clients: dict[str, Any]


@pytest.fixture(scope="session")
def aws_scratch(request: pytest.FixtureRequest) -> AwsScratch:
    """The scratch infrastructure of an --aws run: made once, deleted at the end of the session."""
    opts = aws.options(request.config)
    assert opts is not None
    session, account_id = aws.session_or_exit(opts.region)
    aws.require_dms_vpc_role(session)
    cleanup = Cleanup()
    request.addfinalizer(lambda: _finish(request.config, cleanup))
    p = Provisioner(session, None, cleanup, time.sleep, AWS_POLL_SECONDS)
    infra = provision(p, opts.prefix, opts.source, opts.instance_extra)
    request.config.stash[WHERE] = f"AWS account {account_id} ({opts.region}, prefix {opts.prefix})"
    return AwsScratch(session, infra, opts.source, opts.prefix, p.clients)


@pytest.fixture
def account(request: pytest.FixtureRequest) -> Account:
    """What the check runs against. Everything it registers with `account.cleanup` is deleted afterwards."""
    cleanup = Cleanup()
    if request.config.getoption("--aws"):
        scratch: AwsScratch = request.getfixturevalue("aws_scratch")
        request.addfinalizer(lambda: _finish(request.config, cleanup))
        return Account(where="aws", session=scratch.session, endpoint_url=None, infra=scratch.infra,
                       source=scratch.source, pause=time.sleep, poll_seconds=AWS_POLL_SECONDS,
                       name_prefix=scratch.prefix, cleanup=cleanup, clients=scratch.clients)
    sandbox = request.getfixturevalue("sandbox")  # the plugin's in-process account (sandbox/pytest_plugin.py)
    request.addfinalizer(lambda: _finish(request.config, cleanup))
    source = SANDBOX_SOURCE

    def declare_task(task_id: str) -> None:
        """The sandbox's source catalog is per task (ASSUMPTIONS A5): the tables a real source would have."""
        for table in source.tables:
            sandbox.set_table_size(task_id, source.schema, table, SMALL_TABLE_ROWS)
        sandbox.set_table_size(task_id, source.schema, str(source.large_table), LARGE_TABLE_ROWS)

    session = sandbox.boto_session()
    p = Provisioner(session, sandbox.endpoint_url, cleanup, sandbox.advance, SANDBOX_POLL_SECONDS)
    infra = provision(p, "dmsctl-conformance", source, {})
    return Account(where="sandbox", session=session, endpoint_url=sandbox.endpoint_url, infra=infra, source=source,
                   pause=sandbox.advance, poll_seconds=SANDBOX_POLL_SECONDS, name_prefix="dmsctl-conformance",
                   cleanup=cleanup, declare_task=declare_task, clients=p.clients)

