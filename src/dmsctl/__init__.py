"""dmsctl: AWS Database Migration Service replication managed as code.

The installed distribution has one import name. Its parts live at the top of the repository and
are mapped in by pyproject.toml:

- ``dmsctl.compiler`` (``compiler/``): pure config -> TableMappings and CloudFormation, no AWS.
- ``dmsctl.deployer`` (``deployer/``): live reads, plan, apply and the command line.
- ``dmsctl.sandbox`` (``sandbox/``): the offline AWS account; needs the ``sandbox`` extra (moto).
- ``dmsctl.templates``, ``dmsctl.schemas``, ``dmsctl.examples``: data files read through
  ``importlib.resources``.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("dmsctl")
except metadata.PackageNotFoundError:  # pragma: no cover - imported from a tree that was never installed
    __version__ = "0+unknown"
