"""The `dmsctl` command line."""

from deployer.cli.main import cli, main

__all__ = ["cli", "main"]
