"""The sandbox's HTTP control API is a user interface: docs/SANDBOX.md lists exactly the routes the
server dispatches, and the server's docstring agrees."""

from __future__ import annotations

import re

from tests.helpers import REPO


def _dispatched() -> set[tuple[str, str]]:
    source = (REPO / "sandbox" / "server.py").read_text()
    return {(m, p) for m, p in re.findall(r'route == \("(GET|POST|DELETE)", "([a-z/-]+)"\)', source)}


def _documented() -> set[tuple[str, str]]:
    doc = (REPO / "docs" / "SANDBOX.md").read_text()
    return {(m, p) for m, p in re.findall(r"^\| (GET|POST|DELETE) \| `/_sandbox/([a-z/-]+)`", doc, re.M)}


def test_every_dispatched_route_is_documented_and_nothing_else():
    assert _dispatched() and _documented() == _dispatched()


def test_the_server_docstring_lists_the_same_routes():
    source = (REPO / "sandbox" / "server.py").read_text()
    rows = re.findall(r"^  (GET|POST|DELETE) +/_sandbox/(\S+)", source, re.M)
    listed = {(m, re.split(r"[?[]", p)[0]) for m, p in rows}
    assert listed == _dispatched()
