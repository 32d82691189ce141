"""A team template over CloudFormation's 51,200-byte inline limit is deployed through S3."""

from __future__ import annotations

from dmsctl.compiler.limits import TEMPLATE_INLINE_MAX
from tests.helpers import minimal_team, write_tree


def test_big_team_stack_goes_through_an_s3_template_url(harness, sandbox, tmp_path):
    config = write_tree(tmp_path, teams={"alpha": minimal_team(tables=200)})
    result = harness.compile(config)
    team_stack = result.tree.stacks[1]
    assert len(team_stack.body.encode()) > TEMPLATE_INLINE_MAX
    sandbox.put_s3_object("lake-staging", "README", "lake")

    code, _, progress = harness.apply(config)
    assert code == 0, [e.message for e in progress.events]
    key = f"_dmsctl/templates/{team_stack.name}/{team_stack.template_sha256}.json"
    assert sandbox.s3_keys("lake-staging", "_dmsctl/templates/") == [key]
    change_sets = sandbox.calls.find("cloudformation", "CreateChangeSet")
    by_stack = {c.params.get("StackName"): c.params for c in change_sets}
    assert "TemplateURL" in by_stack[team_stack.name]
    assert "TemplateURL" not in by_stack["dmsctl-base"]  # small templates stay inline
    assert "(template via S3)" in " ".join(e.message for e in progress.events)
    assert not harness.plan(config)[0].plan.has_changes
