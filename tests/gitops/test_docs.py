"""Every plan check code is documented, in CODES.md and in the onboarding guide's table."""

from __future__ import annotations

import re

from tests.helpers import REPO


def test_every_plan_check_code_is_documented():
    emitted = {code for module in (REPO / "deployer").rglob("*.py")
               for code in re.findall(r'"(P\d{3})"', module.read_text())}
    codes = (REPO / "docs" / "CODES.md").read_text()
    plan_section = codes[codes.index("## Plan checks"):]
    assert emitted and emitted == set(re.findall(r"^### (P\d{3}):", plan_section, re.M))
    guide = (REPO / "docs" / "ONBOARDING.md").read_text()
    assert emitted == set(re.findall(r"^\| (P\d{3}) \|", guide, re.M))
    assert "docs/ONBOARDING.md" in (REPO / "README.md").read_text()
