"""The README's main job: the example configs, planned and applied on the sandbox.

Starts the sandbox on 127.0.0.1 seeded with the demo scenario (the example configs as they were
one revision ago, deployed and running), then runs the real `dmsctl` command line against it, the
way it runs against AWS: validate, compile, plan, apply, plan again. Exits non-zero if any of them
does not do what it should.

    python -m deployer.sandbox.demo [--env staging] [--clock-factor 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo" / "scenario.yaml"


def _run(title: str, args: list[str], env: dict, expect: set[int]) -> int:
    print(f"\n$ dmsctl {' '.join(args)}    # {title}", flush=True)
    code = subprocess.run([sys.executable, "-m", "deployer.cli", *args], env=env).returncode
    if code not in expect:
        print(f"\ndemo: `dmsctl {' '.join(args)}` exited {code}, expected {sorted(expect)}", file=sys.stderr)
        sys.exit(1)
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="staging")
    parser.add_argument("--clock-factor", type=float, default=300.0,
                        help="simulated seconds per real second (full loads, task stops)")
    opts = parser.parse_args()

    from deployer.sandbox.server import start_server

    shown = SCENARIO.relative_to(Path.cwd()) if SCENARIO.is_relative_to(Path.cwd()) else SCENARIO
    print(f"Starting the sandbox (scenario {shown})…", flush=True)
    handle = start_server(port=0, scenario=SCENARIO, clock_factor=opts.clock_factor)
    env = dict(os.environ, AWS_ENDPOINT_URL=handle.url, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=handle.sandbox.region, NO_COLOR="1")
    env.pop("AWS_PROFILE", None)
    print(f"Sandbox at {handle.url}: account {handle.sandbox.account_id}, clock x{opts.clock_factor:g}")
    try:
        _run("every environment, every file", ["validate"], env, {0})
        _run("templates and mappings into build/", ["compile", "--env", opts.env, "--no-lint"], env, {0})
        _run("read-only: what would change, and is it safe?", ["plan", "--env", opts.env, "--no-lint",
                                                              "--out", "build/plan.json"], env, {2})
        _run("execute the reviewed plan", ["apply", "--env", opts.env, "--plan", "build/plan.json", "--yes",
                                           "--no-lint"], env, {0})
        _run("converged?", ["plan", "--env", opts.env, "--no-lint"], env, {0})
        _run("what the nightly schedule does: today's dated export", ["run", "food/recipes-export", "--env",
                                                                      opts.env], env, {0})
    finally:
        handle.stop()
    print("\ndemo: plan -> apply -> No changes, on the sandbox.")


if __name__ == "__main__":
    main()
