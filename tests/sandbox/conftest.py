"""Deployed base + team stacks shared by the sandbox tests."""

from __future__ import annotations

import pytest

from . import helpers as h
from . import templates as t

TEAM_TABLES = ("app.users", "app.orders")


@pytest.fixture
def deployed(sandbox):
    """Base stack + team stack with one ready (never started) full-load-and-cdc task ``team-a-app``."""
    assert h.create_stack(sandbox, "dmsctl-base", t.body(t.base_template())) == "CREATE_COMPLETE"
    team = t.team_template({"team-a-app": t.mappings(*TEAM_TABLES)})
    assert h.create_stack(sandbox, "dmsctl-team-a", t.body(team)) == "CREATE_COMPLETE"
    h.connect_all(sandbox)
    return team
