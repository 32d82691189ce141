"""Two first deploys of one environment at once. There is no state table (so no lock) until the base
stack exists; the base stack's creation decides which run goes on: the other changes nothing.

Run B plans on the empty account; before it deploys anything (its confirmation prompt), run A deploys
the whole environment. B must not update the base stack A created, or anything else."""

from __future__ import annotations

import pytest

from dmsctl.deployer.stack_deploy import StackFailure
from tests.e2e.apply_helpers import BUCKET, applier, lock_holder, resource_mutations, tree


def _other_base(doc: dict) -> None:
    doc["environments"]["staging"]["tags"]["cost-center"] = "b-branch"  # B's templates differ from A's


def test_a_second_first_deploy_stops_before_changing_what_the_first_created(harness, sandbox, tmp_path):
    sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg_a, cfg_b = tree(tmp_path / "a"), tree(tmp_path / "b", base=_other_base)
    run_b = applier(harness, cfg_b)
    marks: list[int] = []

    def meanwhile_a_deploys(plan) -> bool:
        assert plan.summary.stacks_to_create == 4  # B planned on the empty account
        code, _, progress = harness.apply(cfg_a)
        assert code == 0, [e.message for e in progress.events]
        marks.append(sandbox.calls.mark())
        return True

    with pytest.raises(StackFailure, match=r"stack dmsctl-base was created by another run since this plan was "
                                           r"made \(CREATE_COMPLETE\).*nothing was changed"):
        run_b.run(confirm=meanwhile_a_deploys)
    assert resource_mutations(sandbox.calls.since(marks[0])) == []  # B changed nothing at all
    assert lock_holder(harness, cfg_a) is None
    again, _ = harness.plan(cfg_a)
    assert not again.plan.has_changes  # A's deploy stands as A made it
