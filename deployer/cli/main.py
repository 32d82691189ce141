"""`dmsctl` entry point: the command group and the error boundary (no tracebacks unless --debug)."""

from __future__ import annotations

import sys

import click

from deployer.errors import DmsctlError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except DmsctlError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if str(exc):
                click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # the last line of defence: a person reads this
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n(run with --debug for the traceback, "
                       "and please report it)", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=str), default="configs",
              show_default=True, help="The config tree (base.yaml, teams/).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config_dir: str) -> None:
    """dmsctl: AWS DMS replication managed as code."""
    ctx.ensure_object(dict)
    ctx.obj.update(debug=debug, config_dir=config_dir)


def _register() -> None:
    from deployer.cli import apply_cmd, compile_cmd, gitops_cmd, plan_cmd, run_cmd, sandbox_cmd

    cli.add_command(compile_cmd.validate)
    cli.add_command(compile_cmd.compile_)
    cli.add_command(plan_cmd.plan)
    cli.add_command(apply_cmd.apply)
    cli.add_command(apply_cmd.unlock)
    cli.add_command(sandbox_cmd.sandbox)
    gitops_cmd.register(cli)
    run_cmd.register(cli)


_register()


def main() -> None:
    sys.exit(cli.main(prog_name="dmsctl"))
