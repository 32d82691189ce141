"""pytest fixtures: ``sandbox`` (in-process, moto ``mock_aws``) and ``sandbox_server`` (HTTP).

Registered as a pytest plugin (entry point ``pytest11``: ``dmsctl-sandbox``) by the installed
distribution, so any project that installs ``dmsctl[sandbox]`` gets the fixtures. Loading the plugin
imports nothing heavy: moto is imported when a test asks for a fixture, and a missing extra skips
nothing silently: the test errors with the install command.
Both yield an object with the same helpers (clock, faults, calls, set_table_size, record_changes,
table_restarts, tables, overwrites, deletions, sns_deliveries, s3_keys, put_s3_object, load_scenario, client(...)).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from . import SandboxUnavailable, require_sandbox_extra

if TYPE_CHECKING:
    from .remote import RemoteSandbox
    from .sandbox import Sandbox


def _require() -> None:
    try:
        require_sandbox_extra()
    except SandboxUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh offline AWS account in this process; the sim clock is manual."""
    _require()
    from moto import mock_aws

    from . import moto_patch
    from .clock import SimClock
    from .sandbox import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Sandbox, new_world

    moto_patch.install()
    saved = {k: os.environ.get(k) for k in ("MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL")}
    os.environ["MOTO_ACCOUNT_ID"] = DEFAULT_ACCOUNT_ID
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(config=moto_patch.MOTO_CONFIG):
        from .account import prepare_account

        world = new_world(SimClock())
        sb = Sandbox(world, region=DEFAULT_REGION, account_id=DEFAULT_ACCOUNT_ID)
        prepare_account(sb)
        yield sb
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def sandbox_server() -> Iterator[RemoteSandbox]:
    """The same sandbox behind a local HTTP server on a free port (manual clock)."""
    _require()
    from .remote import RemoteSandbox
    from .server import start_server

    saved = os.environ.get("MOTO_ACCOUNT_ID")
    handle = start_server(port=0, clock_factor=None)
    try:
        yield RemoteSandbox(handle.url)
    finally:
        handle.stop()
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        if saved is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = saved
