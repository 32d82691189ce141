"""`dmsctl sandbox serve|demo`: the offline AWS account, as a local server on 127.0.0.1.

The only production entry point into dmsctl.sandbox, imported lazily and only after checking that
the ``sandbox`` extra (moto) is installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from dmsctl.deployer.errors import DmsctlError


def _require_extra() -> None:
    from dmsctl.sandbox import SandboxUnavailable, require_sandbox_extra

    try:
        require_sandbox_extra()
    except SandboxUnavailable as exc:
        raise DmsctlError(str(exc)) from None


def _scenario(value: str | None) -> Path | None:
    """A scenario file, or the name of one the sandbox ships (``demo``)."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        return path
    from importlib.resources import files

    shipped = Path(str(files("dmsctl.sandbox"))) / "scenarios" / value / "scenario.yaml"
    if "/" not in value and shipped.is_file():
        return shipped
    raise click.BadParameter(f"{value!r} is neither a file nor a scenario the sandbox ships (demo)",
                             param_hint="--scenario")


@click.group()
def sandbox() -> None:
    """The offline AWS account (moto + DMS behaviour) for demos and tests.

    Needs the extra: pip install 'dmsctl[sandbox]'.

    Example: dmsctl sandbox serve --scenario demo --port 5000
    """


@sandbox.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--scenario", default=None, metavar="FILE|NAME",
              help="YAML that seeds the account (deployed config, S3 data, table sizes), or a shipped "
                   "scenario's name: demo.")
@click.option("--clock-factor", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated seconds per real second.")
def serve(port: int, scenario: str | None, clock_factor: float) -> None:
    """Serve the sandbox on 127.0.0.1 until interrupted.

    Point dmsctl (or any AWS client) at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT.
    The control API (/_sandbox/...) is described in docs/SANDBOX.md.

    Example: dmsctl sandbox serve --scenario demo
    """
    path = _scenario(scenario)
    _require_extra()
    from dmsctl.sandbox.server import serve as run

    run(host="127.0.0.1", port=port, scenario=path, clock_factor=clock_factor)


@sandbox.command()
@click.option("--env", "env_name", default="staging", show_default=True, help="Environment of the example configs.")
@click.option("--clock-factor", default=300.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated seconds per real second.")
@click.option("--keep", default=None, type=click.Path(file_okay=False), help="Keep the compiled output and plan here.")
def demo(env_name: str, clock_factor: float, keep: str | None) -> None:
    """The demo: example configs validated, compiled, planned and applied on a fresh sandbox.

    Example: dmsctl sandbox demo --env staging
    """
    _require_extra()
    from dmsctl.sandbox import demo as demo_mod

    args = ["--env", env_name, "--clock-factor", str(clock_factor)] + (["--keep", keep] if keep else [])
    demo_mod.main(args)
