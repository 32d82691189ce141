"""The README's main job runs: sandbox server + the real CLI, plan -> apply -> No changes."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import EXAMPLES


def test_the_demo_runs_on_the_example_configs():
    from dmsctl.sandbox import demo

    assert demo.CONFIGS.resolve() == EXAMPLES.resolve()  # what it passes as --config-dir to every dmsctl run


def test_demo_plans_applies_and_converges(tmp_path):
    # Run from outside the repository: the demo brings its example configs along (the test above), so
    # the live configs/ is out of its reach even by the CLI's default --config-dir (the conftest guard
    # cannot see into this child process).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run([sys.executable, "-m", "dmsctl.sandbox.demo", "--clock-factor", "1000"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    plan_text = out.split("# read-only")[1].split("# execute the reviewed plan")[0]
    for expected in ("↻ foodsearch.barcodes", "+ users.referral_codes", "‖ foodsearch.legacy_portions",
                     "Step 2 of 2", "Verdict: GO"):
        assert expected in plan_text
    assert "final check: No changes." in out
    assert out.rstrip().endswith("demo: plan -> apply -> No changes, on the sandbox.")
    assert "Traceback" not in out + proc.stderr
