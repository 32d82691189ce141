"""The ids a conformance test checks (`@pytest.mark.conformance(id, ...)`) and how a run's outcomes are
summed up. Assumption ids are the rows of docs/ASSUMPTIONS.md "Assumptions"; the others name rows of its
"Documented rules -> source" table (or, for `table-set-change`, behaviour the sandbox models without a row)."""

from __future__ import annotations

from dataclasses import dataclass

REPORT_TO = ("docs/ASSUMPTIONS.md, 'Checking the assumptions against a real account': open an issue with this "
             "output; then change the assumption row, then the sandbox, then the deployer")

CHECKS: dict[str, str] = {
    "A1": "start-replication refused after a full-load(-and-cdc) task has run",
    "A3": "a '/' in a rename value becomes an S3 path separator",
    "A6": "a rename-only TableMappings change keeps the table's progress (no reload)",
    "A9": "stored ReplicationTaskSettings: defaults filled in, a modify merges over them",
    "A15": "stopping mid full load puts the table back to 'Before load'; it reloads from zero",
    "A16": "StopReason: user stop 'Stop Reason NORMAL', failure 'Stop Reason FATAL_ERROR'",
    "table-set-change": "a removed table leaves the table statistics; re-added, it full-loads on resume "
                        "(no assumption row yet: sandbox dms/task.py _apply_selection)",
    "start-needs-connection-tests": "StartReplicationTask refused until both connections tested successfully",
    "connection-already-being-tested": "TestConnection of a pair being tested: 'Connection is already being tested'",
    "create-endpoint-no-test": "CreateEndpoint runs no connection test",
    "log-components-complete": "stored settings list every Logging.LogComponents component",
    "mappings-keep-rules": "stored TableMappings keep their rules",
    "stack-events-next-token": "DescribeStackEvents pages with NextToken",
    "cdc-restart-start-replication": "a cdc task restarted with start-replication is accepted",
    "table-states": "DescribeTableStatistics TableState values and the table-state filter",
    "A61": "a RoleARN CloudFormation cannot assume: ValidationError 'Role <arn> is invalid or cannot be assumed'",
    "A62": "CreateRole with a PermissionsBoundary that does not exist: NoSuchEntity 'Scope ARN: ... does not exist'",
    "A66": "a deleted task is 'deleting' and its identifier is refused (ResourceAlreadyExistsFault) until it is gone",
}

HELD, DIVERGED, GAP, NOT_CHECKED, XPASS = "held", "diverged", "diverged (known sandbox gap, xfail)", \
    "not checked", "held (remove its xfail)"
ORDER = (DIVERGED, GAP, XPASS, HELD, NOT_CHECKED)


@dataclass(frozen=True)
class Outcome:
    check: str
    result: str
    test: str
    detail: str = ""


def verdict(outcomes: list[Outcome]) -> str:
    """One result per check id: the worst of its tests' results."""
    results = {o.result for o in outcomes}
    return next(r for r in ORDER if r in results)


def summary_lines(outcomes: list[Outcome], where: str) -> list[str]:
    by_check: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_check.setdefault(outcome.check, []).append(outcome)
    lines = [f"conformance against {where}:"]
    for check in sorted(by_check, key=lambda c: (not c.startswith("A"), c.startswith("A") and int(c[1:]), c)):
        found = by_check[check]
        result = verdict(found)
        lines.append(f"  {check:<32} {result:<36} {CHECKS.get(check, '')}")
        for o in found:
            if o.result == result and o.detail and result != HELD:
                lines.append(f"      {o.test}: {o.detail}")
    counts = {r: sum(1 for c in by_check.values() if verdict(c) == r) for r in ORDER}
    lines.append("  " + ", ".join(f"{n} {r}" for r, n in counts.items() if n))
    if counts[DIVERGED]:
        lines.append(f"  a divergence on AWS means an assumption is wrong: {REPORT_TO}")
    return lines
