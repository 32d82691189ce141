"""While a stack's tasks are stopped, apply looks at AWS at least every STOPPED_POLL_MAX seconds (the
stop, the deploy, the start): a late look lengthens the stop. Other waits may back off further."""

from __future__ import annotations

import pytest

from dmsctl.deployer.apply import STOPPED_POLL_MAX
from dmsctl.deployer.gateway import Gateway
from tests.e2e.apply_helpers import deploy_examples, tree, tune_foodsearch

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


def test_polls_are_capped_while_tasks_are_stopped(harness, sandbox, tmp_path, monkeypatch):
    deploy_examples(harness, sandbox, tmp_path)
    sandbox.configure(cfn_latency_seconds=120)  # a slow CloudFormation update
    seen: list[tuple[str, float]] = []
    real = Gateway.poll

    def poll(self, describe, done, *, what, max_delay=30.0, **kwargs):
        seen.append((what, max_delay))
        return real(self, describe, done, what=what, max_delay=max_delay, **kwargs)

    monkeypatch.setattr(Gateway, "poll", poll)

    def tune_and_add_team(teams):
        tune_foodsearch(teams)  # food: foodsearch stops around the deploy
        teams["growth"]["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}  # stops nothing

    code, _, _ = harness.apply(tree(tmp_path / "after", tune_and_add_team))
    assert code == 0
    by_what: dict[str, set[float]] = {}
    for what, cap in seen:
        by_what.setdefault(what, set()).add(cap)
    assert by_what["tasks dmsctl-food-foodsearch to be stopped"] == {STOPPED_POLL_MAX}
    assert by_what["stack dmsctl-team-food"] == {STOPPED_POLL_MAX}
    assert by_what["tasks dmsctl-food-foodsearch to be running"] == {STOPPED_POLL_MAX}
    # connection tests still running, if any (already tested pairs are not waited for)
    assert all(caps == {STOPPED_POLL_MAX} for what, caps in by_what.items() if what.startswith("the connection tests"))
    assert by_what["stack dmsctl-team-growth"] == {30.0}  # nothing stopped: no need to hurry
