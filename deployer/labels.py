"""Pull-request labels from a plan, so reviewers and branch protection can filter on what a merge does.

Pure: a function of the plan. The plan workflow sets exactly these on the pull request (the union over
its environments) and removes the other `dmsctl:` labels; nothing else reads them.
"""

from __future__ import annotations

from dmsctl.deployer import plan as P

PREFIX = "dmsctl:"
# label -> what it means (the plan workflow creates missing labels with these descriptions)
LABELS = {
    "dmsctl:no-go": "dmsctl plan: no-go (a blocking check)",
    "dmsctl:no-changes": "dmsctl plan: nothing changes in DMS",
    "dmsctl:stop": "dmsctl plan: replication stops for the deploy",
    "dmsctl:reload": "dmsctl plan: tables reload from scratch",
    "dmsctl:replace": "dmsctl plan: tasks are replaced",
    "dmsctl:delete": "dmsctl plan: stacks, tasks or tables are removed",
    "dmsctl:drift": "dmsctl plan: DMS was changed outside dmsctl",
    "dmsctl:acknowledged": "dmsctl plan: made with an acknowledgement",
}


def plan_labels(plan: P.Plan) -> tuple[str, ...]:
    s = plan.summary
    replaced_reloads = any(t.action == P.REPLACE and t.restart_reloads_all for c in plan.stacks for t in c.tasks)
    wanted = {
        "dmsctl:no-go": not plan.go,
        "dmsctl:no-changes": plan.go and not plan.has_changes,
        "dmsctl:stop": s.tasks_to_stop > 0,
        "dmsctl:reload": s.tables_to_reload > 0 or replaced_reloads,
        "dmsctl:replace": s.tasks_to_replace > 0,
        "dmsctl:delete": s.stacks_to_delete + s.tasks_to_delete + s.tables_to_remove > 0,
        "dmsctl:drift": any(c.code == "P110" for c in plan.checks),
        "dmsctl:acknowledged": bool(plan.acknowledgements) or any(c.acknowledged_by for c in plan.checks),
    }
    return tuple(label for label in LABELS if wanted[label])
