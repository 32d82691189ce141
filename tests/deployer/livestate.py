"""Build a LiveState as if a compiled tree had been deployed and its tasks were running."""

from __future__ import annotations

import dataclasses

from dmsctl.compiler.build import HASH_OUTPUT, CompiledTree
from dmsctl.deployer.live import LiveStack, LiveState, LiveTask


def deployed(tree: CompiledTree, status: str = "running", statuses: dict | None = None,
             account: str | None = None) -> LiveState:
    statuses = statuses or {}
    stacks = {s.name: LiveStack(name=s.name, status="UPDATE_COMPLETE", outputs=((HASH_OUTPUT, s.template_sha256),),
                                template=s.template) for s in tree.stacks}
    tasks = {}
    for t in tree.tasks():
        st = statuses.get(t.identifier, "stopped" if t.paused else status)
        if t.migration_type == "full-load" and st == "running":
            st = "stopped"
        tasks[t.identifier] = LiveTask(identifier=t.identifier, arn=f"arn:aws:dms:eu-west-1:1:task:{t.identifier}",
                                       status=st, migration_type=t.migration_type, mappings=t.mappings,
                                       settings=t.settings, instance_arn="i", source_arn="s", target_arn="t",
                                       ever_started=True)
    return LiveState(account_id=account or tree.account_id, stacks=stacks, tasks=tasks)


def with_task(state: LiveState, ident: str, **changes) -> LiveState:
    tasks = dict(state.tasks)
    tasks[ident] = dataclasses.replace(tasks[ident], **changes)
    return dataclasses.replace(state, tasks=tasks)
