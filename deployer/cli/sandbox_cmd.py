"""`dmsctl sandbox serve`: the offline AWS account, as a local server on 127.0.0.1.

The only production entry point into deployer/sandbox (imported lazily, on demand).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def sandbox() -> None:
    """The offline AWS account (moto + DMS behaviour) for demos and tests."""


@sandbox.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML that seeds the account (deployed config, S3 data, table sizes).")
@click.option("--clock-factor", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated seconds per real second.")
def serve(port: int, scenario: Path | None, clock_factor: float) -> None:
    """Serve the sandbox on 127.0.0.1 until interrupted."""
    from deployer.sandbox.server import serve as run

    run(host="127.0.0.1", port=port, scenario=scenario, clock_factor=clock_factor)
