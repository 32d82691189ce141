"""The README's main job: the example configs, planned and applied on the sandbox.

Starts the sandbox on 127.0.0.1 seeded with the demo scenario (the example configs as they were
one revision ago, deployed and running), then runs the real `dmsctl` command line against it, the
way it runs against AWS: validate, compile, plan, apply, plan again. Exits non-zero if any of them
does not do what it should. The example configs ship with the scenario (``scenarios/demo/current``
and ``previous``), so the demo runs from any directory; what it writes goes to a temporary folder.

    python -m dmsctl.sandbox.demo [--env staging] [--clock-factor 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

DEMO_DIR = Path(str(files("dmsctl.sandbox"))) / "scenarios" / "demo"
SCENARIO = DEMO_DIR / "scenario.yaml"
CONFIGS = DEMO_DIR / "current"


def _run(title: str, args: list[str], env: dict, expect: set[int]) -> int:
    print(f"\n$ dmsctl {' '.join(args)}    # {title}", flush=True)
    code = subprocess.run([sys.executable, "-m", "dmsctl", "--config-dir", str(CONFIGS), *args], env=env).returncode
    if code not in expect:
        print(f"\ndemo: `dmsctl {' '.join(args)}` exited {code}, expected {sorted(expect)}", file=sys.stderr)
        sys.exit(1)
    return code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="staging")
    parser.add_argument("--clock-factor", type=float, default=300.0,
                        help="simulated seconds per real second (full loads, task stops)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="write the compiled output and plan.json here (default: a temporary folder)")
    opts = parser.parse_args(argv)
    from dmsctl.sandbox import require_sandbox_extra

    require_sandbox_extra()

    from dmsctl.sandbox.server import start_server

    shown = SCENARIO.relative_to(Path.cwd()) if SCENARIO.is_relative_to(Path.cwd()) else SCENARIO
    print(f"Starting the sandbox (scenario {shown})…", flush=True)
    handle = start_server(port=0, scenario=SCENARIO, clock_factor=opts.clock_factor)
    env = dict(os.environ, AWS_ENDPOINT_URL=handle.url, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=handle.sandbox.region, NO_COLOR="1")
    env.pop("AWS_PROFILE", None)
    print(f"Sandbox at {handle.url}: account {handle.sandbox.account_id}, clock x{opts.clock_factor:g}")
    out = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="dmsctl-demo-"))
    plan_file = str(out / "plan.json")
    try:
        _run("every environment, every file", ["validate"], env, {0})
        _run("templates and mappings", ["compile", "--env", opts.env, "--no-lint", "--out", str(out / "build")],
             env, {0})
        _run("read-only: what would change, and is it safe?", ["plan", "--env", opts.env, "--no-lint",
                                                              "--out", plan_file], env, {2})
        _run("execute the reviewed plan", ["apply", "--env", opts.env, "--plan", plan_file, "--yes",
                                           "--no-lint"], env, {0})
        _run("converged?", ["plan", "--env", opts.env, "--no-lint"], env, {0})
        _run("what the nightly schedule does: today's dated export", ["run", "food/recipes-export", "--env",
                                                                      opts.env], env, {0})
    finally:
        handle.stop()
    print("\ndemo: plan -> apply -> No changes, on the sandbox.")


if __name__ == "__main__":
    main()
