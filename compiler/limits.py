"""AWS size limits the compiled output must respect, and the headroom left.

- DMS: a task's TableMappings may be at most 2 MB (we count 2 * 1024 * 1024 bytes of the JSON).
- CloudFormation: a template body of at most 51,200 bytes can be sent inline; up to 1,000,000
  bytes through an S3 TemplateURL (the deployer uploads it); at most 500 resources per stack.
Warnings start at 80 % of a hard limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dmsctl.compiler.diagnostics import Diagnostic, Severity

MAPPINGS_MAX = 2 * 1024 * 1024
TEMPLATE_INLINE_MAX = 51_200
TEMPLATE_S3_MAX = 1_000_000
RESOURCES_MAX = 500
WARN_RATIO = 0.8


@dataclass(frozen=True)
class TaskStats:
    task: str
    tables: int
    mapping_bytes: int

    @property
    def mapping_headroom(self) -> float:
        return 1 - self.mapping_bytes / MAPPINGS_MAX


@dataclass(frozen=True)
class StackStats:
    stack: str
    template_bytes: int
    resources: int
    tasks: tuple[TaskStats, ...]

    @property
    def needs_s3_upload(self) -> bool:
        return self.template_bytes > TEMPLATE_INLINE_MAX


def stack_stats(stack) -> StackStats:
    template = json.loads(stack.body)
    tasks = tuple(TaskStats(task=t.identifier, tables=sum(1 for tb in t.tables if not tb.paused),
                            mapping_bytes=len(t.mappings.encode())) for t in stack.tasks)
    return StackStats(stack=stack.name, template_bytes=len(stack.body.encode()),
                      resources=len(template.get("Resources", {})), tasks=tasks)


def _ratio(used: int, limit: int) -> str:
    return f"{used:,} of {limit:,} bytes ({100 * used / limit:.0f} %)"


def _split_advice(stats: StackStats) -> str:
    """How to make a stack smaller: name its biggest tasks (moving a task replaces it, so say so)."""
    biggest = sorted(stats.tasks, key=lambda t: -t.mapping_bytes)[:3]
    names = ", ".join(f"{t.task} ({t.tables:,} tables)" for t in biggest)
    where = f" (largest: {names})" if names else ""
    return ("give some of its tasks their own stack with `stack: <name>` in the team file" + where +
            "; moving a deployed task to another stack replaces it, so prefer new tasks or tasks you are about to "
            "reload anyway")


def check(stats: StackStats) -> list[Diagnostic]:
    diags = []
    where = f"<template {stats.stack}>"
    for t in stats.tasks:
        advice = ("split it: move some tables to a new task (each moved table reloads into its new task, so "
                  "move tables you are about to reload anyway)")
        if t.mapping_bytes > MAPPINGS_MAX:
            diags.append(Diagnostic("E303", f"task {t.task}: TableMappings is {_ratio(t.mapping_bytes, MAPPINGS_MAX)}, "
                                    f"over DMS's limit; {advice}", file=where))
        elif t.mapping_bytes > WARN_RATIO * MAPPINGS_MAX:
            diags.append(Diagnostic("W303", f"task {t.task}: TableMappings is {_ratio(t.mapping_bytes, MAPPINGS_MAX)}; "
                                    f"{advice} before it reaches the limit", file=where, severity=Severity.WARNING))
    if stats.template_bytes > TEMPLATE_S3_MAX:
        size = _ratio(stats.template_bytes, TEMPLATE_S3_MAX)
        diags.append(Diagnostic("E304", f"stack {stats.stack}: template is {size}, over CloudFormation's limit: "
                                f"{_split_advice(stats)}", file=where))
    elif stats.template_bytes > WARN_RATIO * TEMPLATE_S3_MAX:
        size = _ratio(stats.template_bytes, TEMPLATE_S3_MAX)
        diags.append(Diagnostic("W304", f"stack {stats.stack}: template is {size} of CloudFormation's limit: "
                                f"{_split_advice(stats)}", file=where, severity=Severity.WARNING))
    elif stats.needs_s3_upload:
        diags.append(Diagnostic("I304", f"stack {stats.stack}: template is {stats.template_bytes:,} bytes, over the "
                                f"{TEMPLATE_INLINE_MAX:,}-byte inline limit: it is deployed through S3", file=where,
                                severity=Severity.INFO))
    if stats.resources > RESOURCES_MAX:
        diags.append(Diagnostic("E305", f"stack {stats.stack}: {stats.resources} resources, over CloudFormation's "
                                f"{RESOURCES_MAX}: split the team", file=where))
    elif stats.resources > WARN_RATIO * RESOURCES_MAX:
        diags.append(Diagnostic("W305", f"stack {stats.stack}: {stats.resources} of {RESOURCES_MAX} resources",
                                file=where, severity=Severity.WARNING))
    return diags
