"""The data files the compiler reads, found through importlib.resources (never relative to a checkout).

Installed, they live in the ``dmsctl.templates`` and ``dmsctl.schemas`` packages of the wheel; in a
development install those packages map to the repository's ``templates/`` and ``schemas/``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def templates_dir() -> Path:
    return Path(str(files("dmsctl.templates")))


@cache
def schemas_dir() -> Path:
    return Path(str(files("dmsctl.schemas")))
