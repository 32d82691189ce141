"""Durations and rates of the simulation (sim seconds). Tests may replace them per sandbox."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    default_table_rows: int = 1000
    full_load_rows_per_second: float = 50.0  # per table; 1000 rows -> 20 s
    cdc_rows_per_second: float = 1.0  # inserts per table while CDC runs (updates = 1/2, deletes = 1/10)
    cdc_file_interval: float = 600.0  # at most one CDC file per table per this many seconds
    task_create_seconds: float = 5.0  # DMS API create: creating -> ready
    task_modify_seconds: float = 5.0  # DMS API modify: modifying -> previous state
    task_start_seconds: float = 10.0  # starting -> running
    task_stop_seconds: float = 5.0  # stopping -> stopped
    task_delete_seconds: float = 20.0  # DMS API delete: deleting -> gone (the identifier is taken until then, A66)
    connection_test_seconds: float = 10.0  # testing -> successful/failed
    instance_create_seconds: float = 0.0  # creating -> available
    cfn_latency_seconds: float = 0.0  # stack stays *_IN_PROGRESS this long
    cfn_change_set_seconds: float = 0.0  # a change set stays CREATE_IN_PROGRESS this long (A70)
