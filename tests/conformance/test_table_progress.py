"""Undocumented behaviours of table progress and S3 paths the design relies on (A3, A6, A15, table-set-change)."""

from __future__ import annotations

import secrets

import pytest

from . import dms as d

DONE = "Table completed"


def _load_start(stats):
    assert stats.get("FullLoadStartTime"), f"no FullLoadStartTime in {stats}"
    return stats["FullLoadStartTime"]


def _loaded_task(account, migration_type, mappings):
    """A started task whose selected small tables have all completed their full load."""
    arn = d.create_task(account, "progress", migration_type, mappings)
    d.start(account, arn)
    d.wait_status(account, arn, "running", "stopped")
    account.wait_until("every table to complete its full load", lambda: d.table_stats(account, arn),
                       lambda stats: bool(stats) and all(s["TableState"] == DONE for s in stats.values()),
                       d.LOAD_LIMIT)
    return arn


@pytest.mark.conformance("A3")
def test_a_slash_in_a_rename_value_becomes_an_s3_path_separator(account):
    account.require_source()
    schema, table = account.source.schema, account.source.tables[0]
    token = f"conf{secrets.token_hex(3)}"  # unique under the shared bucket folder
    arn = _loaded_task(account, "full-load", d.mappings(schema, table, renames={table: f"{token}/v2"}))
    d.wait_status(account, arn, "stopped")
    prefix = f"{account.infra.bucket_folder}/{schema}/{token}/v2/"
    s3 = account.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=account.infra.bucket,
                                                  Prefix=f"{account.infra.bucket_folder}/").get("Contents", [])
            if token in o["Key"]]
    assert keys and all(k.startswith(prefix) for k in keys), f"wanted keys under {prefix}, found {keys}"


@pytest.mark.conformance("A6")
def test_a_rename_only_mapping_change_keeps_the_tables_progress(account):
    account.require_source()
    schema, tables = account.source.schema, account.source.tables
    arn = _loaded_task(account, "full-load-and-cdc", d.mappings(schema, *tables, renames={tables[0]: "renamed_v1"}))
    before = d.table_stats(account, arn)[tables[0]]
    d.stop(account, arn)
    d.modify_mappings(account, arn, d.mappings(schema, *tables, renames={tables[0]: "renamed_v2"}))
    d.start(account, arn, "resume-processing")
    d.wait_status(account, arn, "running")
    after = d.table_stats(account, arn)[tables[0]]
    assert after["TableState"] == DONE, f"after a rename-only change the table is {after['TableState']!r}"
    assert not after["FullLoadReloaded"], "the table was reloaded"
    assert after.get("FullLoadStartTime") == before.get("FullLoadStartTime"), "the table's full load started again"
    assert after["FullLoadRows"] == before["FullLoadRows"]


@pytest.mark.conformance("table-set-change")
def test_a_removed_table_leaves_the_statistics_and_full_loads_when_added_back(account):
    account.require_source()
    schema, (kept, moved) = account.source.schema, account.source.tables
    arn = _loaded_task(account, "full-load-and-cdc", d.mappings(schema, kept, moved))
    first = d.table_stats(account, arn)
    d.stop(account, arn)
    d.modify_mappings(account, arn, d.mappings(schema, kept))
    d.start(account, arn, "resume-processing")
    d.wait_status(account, arn, "running")
    assert sorted(d.table_stats(account, arn)) == [kept], "a removed table is still in the table statistics"
    d.stop(account, arn)
    d.modify_mappings(account, arn, d.mappings(schema, kept, moved))
    d.start(account, arn, "resume-processing")
    d.wait_status(account, arn, "running")
    again = d.wait_table(account, arn, moved, DONE)
    assert _load_start(again) > _load_start(first[moved]), (
        "the re-added table did not full-load again")
    kept_now = d.table_stats(account, arn)[kept]
    assert kept_now.get("FullLoadStartTime") == first[kept].get("FullLoadStartTime"), "the kept table reloaded"


@pytest.mark.conformance("A15")
def test_stopping_mid_full_load_restarts_the_table(account):
    large = account.require_large_table()
    arn = d.create_task(account, "midload", "full-load-and-cdc", d.mappings(account.source.schema, large))
    d.start(account, arn)
    loading = d.wait_table(account, arn, large, "Full load", DONE)
    assert loading["TableState"] == "Full load", "the large table loaded before it could be stopped: use a larger one"
    d.stop(account, arn)
    stopped = d.table_stats(account, arn)[large]
    assert stopped["TableState"] == "Before load", f"a table stopped mid load is {stopped['TableState']!r}"
    d.start(account, arn, "resume-processing")
    reloading = d.wait_table(account, arn, large, "Full load", DONE)
    assert _load_start(reloading) > _load_start(loading), (
        "the table continued its interrupted load instead of restarting it")
