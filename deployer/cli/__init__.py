"""The `dmsctl` command line."""

from dmsctl.deployer.cli.main import cli, main

__all__ = ["cli", "main"]
