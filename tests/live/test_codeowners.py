"""The committed .github/CODEOWNERS is what `dmsctl codeowners` generates from the live configs/.

CI runs `dmsctl codeowners --check` too; this is the same check inside `make test`."""

from __future__ import annotations

from dmsctl.compiler.codeowners import codeowners
from dmsctl.compiler.config import read_tree
from tests.helpers import LIVE_CONFIGS, REPO


def test_the_committed_file_is_the_generated_one():
    committed = (REPO / ".github" / "CODEOWNERS").read_text()
    assert committed == codeowners(read_tree(LIVE_CONFIGS), "configs"), \
        "out of date: run `dmsctl codeowners` and commit .github/CODEOWNERS"
