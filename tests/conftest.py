"""Shared test configuration: the golden-file flag and the sandbox fixtures."""

from __future__ import annotations

import pytest

# The sandbox fixtures (`sandbox`, `sandbox_server`); see deployer/sandbox/pytest_plugin.py.
pytest_plugins = ["deployer.sandbox.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite golden files from the current output instead of comparing (review the diff!).")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
