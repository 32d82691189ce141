"""The plan comment as CI posts it: dmsctl's Markdown, unchanged, within GitHub's 65,536 characters."""

from __future__ import annotations

from dmsctl.deployer.cli.plan_cmd import render
from tests.gitops.workflows import load, step
from tests.render import plans

GITHUB_MAX = 65_536


def test_a_huge_change_fits_in_one_comment():
    plan = plans.huge()  # 200 teams x 50 tasks x 50 tables added
    comment = render(plan, "markdown", False)  # what `dmsctl plan --markdown-out` writes
    assert len(comment) <= GITHUB_MAX
    assert comment.startswith(f"<!-- dmsctl-plan:{plan.env} -->\n")
    assert "the full plan is in the plan.json artifact of this run" in comment


def test_ci_posts_the_file_as_is_and_finds_it_by_its_marker():
    job = load("plan.yml")["jobs"]["comment"]
    post = step(job, uses="peter-evans/create-or-update-comment@")["with"]
    assert post["body-path"] == "plan.md" and post["edit-mode"] == "replace" and "body" not in post
    assert post["comment-id"] == "${{ steps.find.outputs.comment-id }}"
    find = step(job, uses="peter-evans/find-comment@")["with"]
    assert find["body-includes"] == "${{ steps.marker.outputs.marker }}"
    assert find["comment-author"] == "github-actions[bot]"
    assert step(job, "Marker")["run"].startswith("echo \"marker=$(head -n 1 plan.md)\"")
    artifact = step(load("plan.yml")["jobs"]["plan"], uses="actions/upload-artifact@")["with"]
    assert "plan.json" in artifact["path"] and "plan.md" in artifact["path"]
