"""`dmsctl codeowners`: generated from the configs, committed, and checked in CI.

On the example tree; that the committed .github/CODEOWNERS matches the live configs/ is tests/live/."""

from __future__ import annotations

import fnmatch
import re

import yaml
from click.testing import CliRunner

from dmsctl.compiler.codeowners import codeowners
from dmsctl.compiler.config import read_tree
from dmsctl.deployer.cli import cli
from tests.helpers import EXAMPLES, GOLDEN, compare_golden, minimal_team, write_tree


def owners_of(text: str, path: str) -> str:
    """GitHub's rule, for the patterns dmsctl writes: the last matching line wins."""
    found = ""
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, owners = line.split(None, 1)
            if (pattern == "*" or (pattern.endswith("/") and ("/" + path).startswith(pattern))
                    or fnmatch.fnmatchcase("/" + path, pattern)):
                found = owners
    return found


def test_golden(update_golden):
    text = codeowners(read_tree(EXAMPLES), "configs")
    assert compare_golden({"CODEOWNERS": text}, GOLDEN / "codeowners", update_golden) == []


def test_team_files_go_to_their_owners_and_the_rest_to_the_platform():
    text = codeowners(read_tree(EXAMPLES), "configs")
    platform = " ".join(yaml.safe_load((EXAMPLES / "base.yaml").read_text())["platform_owners"])
    for team in EXAMPLES.glob("teams/*.yaml"):
        expected = " ".join(yaml.safe_load(team.read_text())["owners"])
        assert owners_of(text, f"configs/teams/{team.name}") == expected
    for path in ("configs/base.yaml", "templates/team.yaml.j2", "schemas/team.schema.json",
                 "compiler/build.py", "deployer/cli/main.py", ".github/workflows/deploy.yml",
                 ".github/CODEOWNERS", "docs/CODES.md"):
        assert owners_of(text, path) == platform, path


def test_check_exit_codes(tmp_path, monkeypatch):
    write_tree(tmp_path, teams={"alpha": minimal_team("alpha"), "beta": minimal_team("beta")})
    monkeypatch.chdir(tmp_path)

    def run(*args):
        return CliRunner().invoke(cli, ["--config-dir", "configs", "codeowners", *args])

    missing = run("--check")
    assert missing.exit_code == 1 and "is missing: run `dmsctl codeowners`" in missing.output
    assert run().exit_code == 0
    written = (tmp_path / ".github" / "CODEOWNERS").read_text()
    assert owners_of(written, "configs/teams/beta.yaml") == "@acme/beta"
    assert run("--check").exit_code == 0
    team = minimal_team("beta")
    team["owners"] = ["@acme/someone-else"]
    write_tree(tmp_path, teams={"beta": team})
    stale = run("--check")
    assert stale.exit_code == 1 and "out of date" in stale.output
    assert re.search(r"^\+/configs/teams/beta\.yaml +@acme/someone-else$", stale.output, re.M)


def test_refuses_a_broken_tree(tmp_path, monkeypatch):
    write_tree(tmp_path, teams={"alpha": "team: alpha\nowners: nobody\n"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--config-dir", "configs", "codeowners"])
    assert result.exit_code == 1 and "E10" in result.output
    assert not (tmp_path / ".github").exists()
