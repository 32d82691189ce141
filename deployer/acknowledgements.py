"""Acknowledgements: the command line's `--allow-*` flags, and configs/acknowledgements.yaml's entries.

An entry names a plan by its checksum: the checksum of the plan made *without* the file's entries
(with the command line's flags only), the one a pull request's comment shows. When it matches, the
plan is made again with the entry's flags, and the plan records every acknowledgement it was made
with (`Plan.acknowledgements`), so a reviewer sees who allowed what, and `apply --plan` can tell a
missing acknowledgement from a stale plan. An entry naming another checksum is ignored, with a
warning (P125): the config or live state changed since it was given. The plan carries the checksum
an entry must name (`Plan.base_checksum`); its own checksum covers the acknowledgements too.
"""

from __future__ import annotations

import dataclasses

from dmsctl.compiler.build import CompileResult
from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.planner import Planned, make_plan

COMMAND_LINE = "command line"


def plan_acknowledged(result: CompileResult, gw: Gateway, flags: Flags = Flags()) -> Planned:
    """The plan with the command line's flags and the file's entries that name it."""
    planned = make_plan(result, gw, flags)
    given = tuple(P.Acknowledgement(flag, COMMAND_LINE) for flag in flags.names())
    entries = result.acknowledgements
    reviewed = planned.plan.checksum
    if not entries:
        return _with(planned, reviewed, given, ())
    honoured = [e for e in entries if e.names(reviewed)]
    ignored = tuple(P.check("P125", "warning", f"{e.source}: acknowledges plan {e.plan[:12]} ({', '.join(e.flags)}), "
                                               f"but this plan is {reviewed[:12]}: ignored, as the config or live "
                                               "state changed since it was given",
                            hint="acknowledge this plan again if it is still wanted, or remove the entry")
                    for e in entries if not e.names(reviewed))
    from_file = tuple(P.Acknowledgement(flag, e.source, reviewed, e.reason) for e in honoured for flag in e.flags)
    extra = {a.flag for a in from_file} - set(flags.names())
    if extra:
        planned = make_plan(result, gw, flags.with_names(extra))
    return _with(planned, reviewed, given + from_file, ignored)


def _with(planned: Planned, reviewed: str, acknowledgements: tuple[P.Acknowledgement, ...],
          checks: tuple[P.Check, ...]) -> Planned:
    plan = planned.plan
    merged = tuple(sorted((*plan.checks, *checks), key=lambda c: (not c.blocks, c.code, c.message)))
    return dataclasses.replace(planned, plan=dataclasses.replace(plan, acknowledgements=acknowledgements,
                                                                 checks=merged, base_checksum=reviewed))


def flags_of(plan: P.Plan) -> tuple[str, ...]:
    return tuple(sorted({a.flag for a in plan.acknowledgements}))


def stale_reason(expected: P.Plan, fresh: P.Plan) -> str:
    """Why a fresh plan is not the reviewed one, in the words a person acts on."""
    had, has = flags_of(expected), flags_of(fresh)
    if had != has:
        missing = [f for f in had if f not in has]
        extra = [f for f in has if f not in had]
        parts = []
        if missing:
            sources = sorted({a.source for a in expected.acknowledgements if a.flag in missing})
            parts.append(f"this plan was made with {' '.join(missing)} ({', '.join(sources)}), this apply has not")
        if extra:
            parts.append(f"this apply has {' '.join(extra)}, the plan was made without")
        return ("; ".join(parts) + ": give apply the same acknowledgements as the plan (flags, or the same "
                "configs/acknowledgements.yaml), or plan again")
    return (f"plan is stale: live state or config changed since it was made (checksum {expected.checksum[:12]} != "
            f"{fresh.checksum[:12]}); re-run dmsctl plan")
