"""The machine rendering of a Plan: the plan file itself (canonical data, checksum, verdict)."""

from __future__ import annotations

from dmsctl.deployer.plan import Plan


def render_json(plan: Plan) -> str:
    """`plan.to_json()`: what `dmsctl apply --plan` reads back (see `plan_from_json`)."""
    return plan.to_json()
