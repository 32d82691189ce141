"""Targets (each a pass/fail verdict) and the Markdown summary of a benchmark run."""

from __future__ import annotations

COMPILE_CPU_LIMIT_S = 1.0  # compile + validate at the largest size, CPU seconds (issue 16)
HELP_RATIO_MAX = 2.5  # `dmsctl --help` CPU / `python -c "import click"` CPU
WARM_VALIDATE_LIMIT_S = 0.6  # `dmsctl validate` of the example tree with a warm lint cache, CPU seconds
PLAN_SLACK = 0  # plan calls == the lower bound (README.md "plan calls")
PLAN_CPU_LIMIT_S = 0.5  # process CPU of make_plan, at 200 teams x 50 tables
PLAN_CPU_TEAMS = 200
REFRESH_RATIO_MIN = 10.0
PARALLEL_RATIO_MAX = 1.5
OUTAGE_OVER_FLOOR_MAX = 0.05  # physical outage of a one-table deploy <= floor + 5 %


def _target(name: str, value, limit: str, ok: bool, note: str = "") -> dict:
    return {"target": name, "value": value, "limit": limit, "pass": bool(ok), "note": note}


def targets(res: dict) -> list[dict]:
    return (_size_targets(res, res["sizes"]) if res["sizes"] else []) + _apply_targets(res["apply"])


def _size_targets(res: dict, sizes: list[dict]) -> list[dict]:
    big = sizes[-1]
    label = f"{big['teams']} teams x {big['tables_per_team']} tables"
    over = {s["teams"]: s["plan"]["total"] - s["plan"]["lower_bound_total"] for s in sizes}
    sane = all(s["plan"]["plan"]["go"] and not s["plan"]["nochange_has_changes"] for s in sizes)
    refresh = big["plan"]["per_resource_refresh"]["dms_calls"] / max(big["plan"]["total"], 1)
    cpu_size = next((s for s in sizes if s["teams"] == PLAN_CPU_TEAMS), big)
    cpu = cpu_size["plan"]["cpu_seconds"]
    lint_ok = all(
        s["lint"]["cold_linted"] == s["lint"]["templates"]
        and s["lint"]["warm_linted"] == s["lint"]["changed_templates"]
        and s["lint"]["warm_cached"] == s["lint"]["templates"] - s["lint"]["changed_templates"]
        for s in sizes
    )
    return [
        _target(
            "plan calls == lower bound (every size)",
            over,
            "0 over",
            sane and all(v <= PLAN_SLACK for v in over.values()),
            "calls over the bound, by team count"
            + ("" if sane else "; a plan was no-go, or the seeded state did not plan as No changes"),
        ),
        _target(
            f"per-resource refresh / plan calls ({label})",
            round(refresh, 1),
            f">= {REFRESH_RATIO_MIN:g}",
            refresh >= REFRESH_RATIO_MIN,
        ),
        _target(
            f"plan CPU ({cpu_size['teams']} teams x {cpu_size['tables_per_team']} tables)",
            cpu,
            f"<= {PLAN_CPU_LIMIT_S:g} s",
            cpu <= PLAN_CPU_LIMIT_S,
            "median process CPU seconds of make_plan after the first plan (compile excluded)",
        ),
        _compile_target(big, label),
        *_compile_targets(res, sizes),
        _target(
            "cfn-lint re-runs only changed templates (every size)",
            {s["teams"]: f"{s['lint']['warm_linted']}/{s['lint']['changed_templates']}" for s in sizes},
            "linted == changed",
            lint_ok,
            "templates linted again / templates changed, after a one-team change",
        ),
    ]


def _apply_targets(apply_: dict) -> list[dict]:
    runs = [apply_[r] for r in ("one", "k_default", "k_parallel_k")]
    stopped, changed = sum(r["tasks_stopped"] for r in runs), sum(r["tasks_changed_running"] for r in runs)
    extra = sorted({t for r in runs for t in r["stopped_unchanged"]})
    stop_ratio = round(stopped / changed, 3) if changed else None
    one, many = apply_["one"]["wall_seconds_real"], apply_["k_default"]["wall_seconds_real"]
    wide = apply_["k_parallel_k"]["wall_seconds_real"]
    k = apply_["k"]
    floor = apply_["floor_seconds"]
    outage = apply_["one"]["outage_seconds_max"]
    return [
        _target(
            "tasks stopped / tasks changed",
            stop_ratio,
            "== 1.0",
            stop_ratio == 1.0 and not extra and all(r["exit_code"] == 0 for r in runs),
            f"{stopped} stopped, {changed} changed and running"
            + (f"; unchanged but stopped: {extra}" if extra else ""),
        ),
        _target(
            f"apply wall time, {k} teams / 1 team (default --parallel {apply_['default_parallelism']})",
            round(many / one, 2),
            f"<= {PARALLEL_RATIO_MAX:g}",
            many / one <= PARALLEL_RATIO_MAX,
            f"with --parallel {k}: {wide / one:.2f}",
        ),
        _target(
            "physical outage of a one-table deploy (sim s)",
            outage,
            f"<= floor {floor:g} s + {OUTAGE_OVER_FLOOR_MAX:.0%} = {floor * (1 + OUTAGE_OVER_FLOOR_MAX):.1f}",
            0 < outage <= floor * (1 + OUTAGE_OVER_FLOOR_MAX),
            f"floor = DMS stop {apply_['dms_stop_seconds']:g} + CloudFormation update "
            f"{apply_['cfn_latency_seconds']:g} + DMS start {apply_['dms_start_seconds']:g}; "
            f"{outage - floor:+.1f} s over it",
        ),
    ]


def _compile_target(big: dict, label: str) -> dict:
    """Compile + validate after a one-team change with the compile cache the previous compile left (a
    pull request's CI run): judged; the compile from nothing is reported beside it."""
    warm, cold = big.get("compile_warm"), big["compile"]
    if warm is None:  # a results file from before the compile cache
        return _target(f"compile + validate CPU, no cfn-lint ({label})", cold["cpu_seconds"],
                       f"<= {COMPILE_CPU_LIMIT_S:g} s", cold["cpu_seconds"] <= COMPILE_CPU_LIMIT_S,
                       "without a compile cache")
    misses = warm["misses"]
    return _target(
        f"compile + validate CPU after a one-team change, no cfn-lint ({label})",
        warm["cpu_seconds"],
        f"<= {COMPILE_CPU_LIMIT_S:g} s",
        warm["cpu_seconds"] <= COMPILE_CPU_LIMIT_S and misses.get("stacks", 0) == 1,
        f"compile cache of the previous compile: {misses.get('parse', 0)} file(s) parsed and "
        f"{misses.get('stacks', 0)} team(s) rendered anew; from nothing {cold['cpu_seconds']} s, "
        f"filling an empty cache {warm['cold_cache_cpu_seconds']} s",
    )


def _compile_targets(res: dict, sizes: list[dict]) -> list[dict]:
    """Start-up, warm validate and the parallel cold cfn-lint (present when the run measured them)."""
    out = []
    if "startup" in res:
        up = res["startup"]
        out.append(_target('`dmsctl --help` CPU / `python -c "import click"` CPU', up["ratio"],
                           f"<= {HELP_RATIO_MAX:g}", up["ratio"] is not None and up["ratio"] <= HELP_RATIO_MAX,
                           f"{up['help_cpu_seconds']} s / {up['import_click_cpu_seconds']} s"))
    if "warm_validate" in res:
        wv = res["warm_validate"]
        out.append(_target("`dmsctl validate` CPU, warm lint cache (example tree)", wv["cpu_seconds"],
                           f"<= {WARM_VALIDATE_LIMIT_S:g} s",
                           wv["exit_code"] == 0 and wv["cpu_seconds"] <= WARM_VALIDATE_LIMIT_S))
    from dmsctl.compiler.lint import workers_for

    pooled = all(s["lint"].get("workers") == workers_for(s["lint"]["cold_linted"], s["lint"].get("cores"))
                 and s["lint"]["cold_linted"] == s["lint"]["templates"] for s in sizes)
    out.append(_target("cfn-lint cold in parallel, one process per core (every size)",
                       {s["teams"]: f"{s['lint']['cold_seconds']} s, {s['lint'].get('workers')} proc."
                        for s in sizes},
                       "workers == min(cores, templates / 8)", pooled,
                       f"{sizes[-1]['lint'].get('cores')} cores; every template linted"))
    return out


def _compile_growth_lines(res: dict) -> list[str]:
    g = res.get("compile_growth")
    if not g:
        return []
    teams = ", ".join(f"{r['teams']}: {r['cpu_seconds']}" for r in g["teams"])
    tables = ", ".join(f"{r['tables']:,}: {r['cpu_seconds']}" for r in g["tables"])
    return ["", f"Compile growth (CPU s, fresh process): by teams of 3 x 50 tables {teams} (log-log slope "
            f"{g['teams_slope']}); one team by tables {tables} (slope {g['tables_slope']})."]


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _growth_lines(growth: dict | None, profile: dict | None) -> list[str]:
    out: list[str] = []
    for key, label in (("teams", "teams (3 tasks x 50 tables each)"), ("tables", "tables of one team")):
        g = (growth or {}).get(key)
        if not g:
            continue
        out += ["", f"Plan growth over {label}: fitted log-log slope CPU {g['slope_cpu']}, calls "
                f"{g['slope_calls']} (lower bound {g['slope_bound']})", "",
                _row([key, "plan calls", "lower bound", "plan cpu s (median)", "plan s (median)"]),
                _row(["---:"] * 5)]
        out += [_row([p[key], p["calls"], p["lower_bound"], p["cpu_seconds"], p["seconds"]]) for p in g["points"]]
    if profile:
        out += ["", f"Plan hot spots at {profile['teams']} teams (cProfile of one plan, "
                f"{profile['profiled_cpu_s']} s profiled): by own time "
                + "; ".join(f"{e['function']} {e['own_s']} s" for e in profile["own_time"])
                + ". dmsctl functions by cumulative time: "
                + "; ".join(f"{e['function']} {e['cumulative_s']} s" for e in profile["dmsctl_cumulative"]) + "."]
    return out


def markdown(res: dict) -> str:
    m = res["meta"]
    out = [
        f"dmsctl benchmarks, {m['date']}: {m['machine']['nproc']} CPUs, {m['machine']['memory_gib']} GiB, "
        f"Python {m['machine']['python']}, load average {m['machine']['load_average_at_start'][0]:.1f} "
        "at start; "
        f"tasks/team {m['tasks_per_team']}, tables/team {m['tables_per_team']}",
        "",
    ]
    if res["sizes"]:
        out += [
            _row(
                [
                    "teams",
                    "tasks",
                    "tables",
                    "compile s (cpu)",
                    "compile, 1 team changed, cached: cpu s",
                    "cfn-lint cold s (linted)",
                    "cfn-lint warm s (linted)",
                    "seed s",
                    "plan calls",
                    "lower bound",
                    "per-resource calls",
                    "plan s (first / median)",
                    "plan cpu s (first / median)",
                ]
            ),
            _row(["---:"] * 13),
        ]
        for s in res["sizes"]:
            p, lint = s["plan"], s["lint"]
            out.append(
                _row(
                    [
                        s["teams"],
                        s["tasks"],
                        s["tables"],
                        f"{s['compile']['seconds']} ({s['compile']['cpu_seconds']})",
                        s.get("compile_warm", {}).get("cpu_seconds", "-"),
                        f"{lint['cold_seconds']} ({lint['cold_linted']})",
                        f"{lint['warm_seconds']} ({lint['warm_linted']})",
                        s["setup"]["seconds"],
                        p["total"],
                        p["lower_bound_total"],
                        p["per_resource_refresh"]["dms_calls"],
                        f"{p['first_seconds']} / {p['seconds']}",
                        f"{p['first_cpu_seconds']} / {p['cpu_seconds']}",
                    ]
                )
            )
        big = res["sizes"][-1]["plan"]
        ops = sorted(set(big["calls"]) | set(big["lower_bound"]))
        out += [
            "",
            f"Plan calls by operation at {res['sizes'][-1]['teams']} teams ({big['stacks_in_account']} stacks, "
            f"{big['describe_stacks_page']} per DescribeStacks page): "
            + ", ".join(f"{op} {big['calls'].get(op, 0)} (bound {big['lower_bound'].get(op, 0)})" for op in ops)
            + f". Requests the sandbox received for them: {big['served_by_sandbox_all_runs']} for "
            f"{big['sent_all_runs']} counted (equal: no retries, nothing uncounted).",
        ]
        out += _growth_lines(res.get("growth"), res.get("plan_profile"))
        mem = res["memory"]
        out += [
            "",
            f"Peak memory at {mem['teams']} teams (tracemalloc): compile {mem['compile_mib']} MiB, "
            f"plan {mem['plan_mib']} MiB (each measured in a fresh process)",
        ]
        out += _compile_growth_lines(res)
    a = res["apply"]
    out += [
        "",
        f"Apply ({a['teams']} teams, CloudFormation {a['cfn_latency_seconds']:g} s per stack and "
        f"{a['cfn_change_set_seconds']:g} s per change set, DMS stop {a['dms_stop_seconds']:g} s / start "
        f"{a['dms_start_seconds']:g} s, clock x{a['clock_factor']:g}, seeding {a['setup']['seconds']} s; "
        f"floor {a['floor_seconds']:g} s):",
        "",
        _row(
            [
                "run",
                "teams changed",
                "--parallel",
                "tasks changed (running)",
                "tasks stopped",
                "physical outage, max s (sim)",
                "task-seconds stopped, seen running (sim)",
                "wall s (real)",
                "wall s (sim)",
                "AWS calls",
            ]
        ),
        _row(["---"] * 10),
    ]
    for name in ("one", "k_default", "k_parallel_k"):
        r = a[name]
        out.append(
            _row(
                [
                    name,
                    r["teams_changed"],
                    r["parallelism"],
                    f"{r['tasks_changed']} ({r['tasks_changed_running']})",
                    r["tasks_stopped"],
                    r["outage_seconds_max"],
                    r["task_seconds_stopped"],
                    r["wall_seconds_real"],
                    r["wall_seconds_sim"],
                    r["aws_calls"],
                ]
            )
        )
    polls = ("dms:DescribeReplicationTasks", "cloudformation:DescribeStackEvents", "cloudformation:DescribeStacks")
    one, many = a["one"]["aws_calls_by_operation"], a["k_default"]["aws_calls_by_operation"]
    out += [
        "",
        f"AWS calls of apply, 1 team / {a['k']} teams: {a['one']['aws_calls']} / {a['k_default']['aws_calls']}; "
        + ", ".join(f"{op} {one.get(op, 0)} / {many.get(op, 0)}" for op in polls),
    ]
    out += ["", _row(["target", "value", "limit", "verdict"]), _row(["---"] * 4)]
    for t in res["targets"]:
        value = (
            t["value"]
            if not isinstance(t["value"], dict)
            else ", ".join(f"{k}: {v}" for k, v in t["value"].items())
        )
        note = f" ({t['note']})" if t["note"] else ""
        out.append(_row([t["target"], f"{value}{note}", t["limit"], "PASS" if t["pass"] else "**FAIL**"]))
    return "\n".join(out)
