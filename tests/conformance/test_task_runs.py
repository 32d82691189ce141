"""Start types, stop reasons and table states of running tasks (documented rules, A1 and A16)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from . import dms as d


def _started(account, migration_type, *tables, **kwargs):
    arn = d.create_task(account, "run", migration_type, d.mappings(account.source.schema, *tables), **kwargs)
    d.start(account, arn)
    return arn


@pytest.mark.conformance("cdc-restart-start-replication")
def test_a_cdc_task_is_restarted_with_start_replication(account):
    account.require_source()
    arn = _started(account, "cdc", account.source.tables[0])
    d.wait_status(account, arn, "running")
    d.stop(account, arn)
    assert d.start(account, arn, "start-replication")["Status"] == "starting"
    d.wait_status(account, arn, "running")


@pytest.mark.conformance("A1")
def test_start_replication_is_refused_after_a_full_load_and_cdc_task_has_run(account):
    account.require_source()
    arn = _started(account, "full-load-and-cdc", account.source.tables[0])
    d.wait_status(account, arn, "running")
    d.stop(account, arn)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        d.start(account, arn, "start-replication")
    code, message = d.error_of(err)
    assert (code, message) == ("InvalidParameterCombinationException",
                               "Start Type : START_REPLICATION, valid only for tasks running for the first time")
    assert d.start(account, arn, "resume-processing")["Status"] == "starting"


@pytest.mark.conformance("A16")
def test_a_user_stop_ends_with_stop_reason_normal(account):
    account.require_source()
    arn = _started(account, "full-load-and-cdc", *account.source.tables)
    d.wait_status(account, arn, "running")
    stopped = d.stop(account, arn)
    assert stopped.get("StopReason") == "Stop Reason NORMAL", stopped.get("StopReason")


@pytest.mark.conformance("A16")
def test_a_failed_task_ends_with_stop_reason_fatal_error(account):
    """A task that selects no table fails when it starts (FailOnNoTablesCaptured, default true: documented).
    A wildcard matching no table: a name without `%` would be a table the sandbox assumes exists (A5)."""
    account.require_source()
    arn = _started(account, "full-load-and-cdc", "dmsctl_conformance_none%")
    failed = d.wait_status(account, arn, "failed", "stopped", "running")
    assert failed["Status"] == "failed", failed["Status"]
    assert failed.get("StopReason") == "Stop Reason FATAL_ERROR", failed.get("StopReason")
    assert failed.get("LastFailureMessage"), "a failed task without LastFailureMessage"


@pytest.mark.conformance("table-states")
def test_table_states_of_a_full_load(account):
    account.require_source()
    tables = account.source.tables
    arn = _started(account, "full-load", *tables, settings={"FullLoadSettings": {"MaxFullLoadSubTasks": 1}})
    seen: set[str] = set()

    def probe():
        stats = d.table_stats(account, arn)
        seen.update(s["TableState"] for s in stats.values())
        return d.describe_task(account, arn)

    done = account.wait_until("the full load to finish", probe, lambda t: t["Status"] in ("stopped", "failed"),
                              d.LOAD_LIMIT)
    assert set(seen) <= set(d.TABLE_STATES), f"undocumented table states {seen - set(d.TABLE_STATES)}"
    assert done.get("StopReason") == "Stop Reason FULL_LOAD_ONLY_FINISHED", done.get("StopReason")
    stats = d.table_stats(account, arn)
    assert {t: s["TableState"] for t, s in stats.items()} == dict.fromkeys(tables, "Table completed")
    assert not any(s["FullLoadReloaded"] for s in stats.values())
    filtered = d.table_stats(account, arn, Filters=[{"Name": "table-state", "Values": ["Full load"]}])
    assert filtered == {}, f"table-state filter 'Full load' returned {sorted(filtered)}"
