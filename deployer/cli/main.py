"""`dmsctl` entry point: the command group, its exit codes and the error boundary.

Exit codes (README, "Commands"): 0 success / no changes, 1 error or no-go plan, 2 plan with changes that are
safe to apply, 64 usage error (unknown option, bad value), 130 / 143 interrupted by SIGINT / SIGTERM.
No traceback is shown unless --debug (DMSCTL_DEBUG=1).

Subcommands are imported when they run (`LazyGroup`), so `dmsctl --help` and `--version` import
neither boto3 nor the compiler.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from dmsctl.deployer.cli.context import Settings
from dmsctl.deployer.errors import DmsctlError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 64, 130, 143

# name -> (module, attribute, one-line help shown by `dmsctl --help` without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("compile_cmd", "validate", "Check the config tree: every file, every environment."),
    "compile": ("compile_cmd", "compile_", "Write CloudFormation templates and TableMappings for one environment."),
    "plan": ("plan_cmd", "plan", "Show what apply would do, and whether it is safe. Never changes AWS."),
    "apply": ("apply_cmd", "apply", "Plan afresh from live state, then stop -> deploy -> resume, step by step."),
    "unlock": ("apply_cmd", "unlock", "Remove a deploy lock left behind by a run that died."),
    "run": ("run_cmd", "run", "Run a scheduled task once: a dated export or one CDC window."),
    "checkpoints": ("run_cmd", "checkpoints", "An incremental task's stored CDC checkpoints."),
    "metrics": ("run_cmd", "metrics", "Per-run, per-table CDC counts of a scheduled task."),
    "codeowners": ("gitops_cmd", "codeowners", "Generate .github/CODEOWNERS from the configs' owners."),
    "bootstrap-template": ("gitops_cmd", "bootstrap_template", "Print the one-time CI roles stack."),
    "environments": ("gitops_cmd", "environments", "Print base.yaml's environments as JSON (the CI matrix)."),
    "schema": ("schema_cmd", "schema", "Print the JSON Schema of a config file kind (team, base) or of the JSON plan."),
    "sandbox": ("sandbox_cmd", "sandbox", "The offline AWS account for demos and tests (extra: sandbox)."),
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"dmsctl.deployer.cli.{entry[0]}")
        command: click.Command = getattr(module, entry[1])
        name_envvars(command, f"DMSCTL_{cmd_name}")
        from dmsctl.deployer.cli.report import remember_format

        remember_format(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """click's main, with usage errors exiting 64 (not 2, which `plan` uses for "changes")."""
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            code = EXIT_USAGE
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = EXIT_ERROR
        code = EXIT_OK if code is None else code
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except DmsctlError as exc:
            if _debug(ctx):
                raise
            _failure(ctx, str(exc), getattr(exc, "findings", ()))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _failure(ctx, "", label="interrupted")
            ctx.exit(EXIT_SIGINT)
        except Exception as exc:  # the last line of defence: a person reads this
            if _debug(ctx):
                raise
            reason = user_mistake(exc)
            if reason is not None:
                _failure(ctx, reason)
                ctx.exit(EXIT_ERROR)
            _failure(ctx, f"{type(exc).__name__}: {exc}\n(run with --debug for the traceback, and please report it)",
                     label="internal error")
            ctx.exit(EXIT_ERROR)


def _failure(ctx: click.Context, message: str, findings: Any = (), label: str = "error") -> None:
    """The error in the command's --format (text on stderr; JSON or workflow commands on stdout)."""
    from dmsctl.deployer.cli.report import failure

    failure(ctx, message, findings, label=label)


def name_envvars(command: click.Command, prefix: str) -> None:
    """Give every option without one the variable DMSCTL_<COMMAND>_<OPTION> (from its long flag, so
    --allow-replace of plan reads DMSCTL_PLAN_ALLOW_REPLACE), shown in --help; subcommands nest."""
    prefix = prefix.upper().replace("-", "_")
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar is None:
            flag = max(param.opts, key=len).lstrip("-").split("/")[0]
            param.envvar = f"{prefix}_{flag.upper().replace('-', '_')}"
            param.show_envvar = True
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            name_envvars(sub, f"{prefix}_{name}")


def _debug(ctx: click.Context) -> bool:
    settings = ctx.find_object(Settings)
    return bool(settings and settings.debug)


def user_mistake(exc: BaseException) -> str | None:
    """A message for a failure of the user's files (unreadable, a folder where a file should be), else None.
    AWS failures (profile, credentials, endpoint) are AwsError already: the gateway translates them."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="dmsctl", prog_name="dmsctl", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, envvar="DMSCTL_DEBUG", show_envvar=True, help="Show Python tracebacks.")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              envvar="DMSCTL_CONFIG_DIR", show_envvar=True, metavar="DIR",
              help="The config tree (base.yaml, teams/). Default: the nearest configs/ with a base.yaml, "
                   "from the current directory upwards.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config_dir: str | None) -> None:
    """dmsctl: AWS DMS replication managed as code.

    Every option can also be set in the environment: DMSCTL_ENV, DMSCTL_CONFIG_DIR, DMSCTL_DEBUG,
    and DMSCTL_<COMMAND>_<OPTION> for the rest (DMSCTL_PLAN_FORMAT=markdown); --help shows each name.

    \b
    Exit codes: 0 ok / no changes, 1 error or no-go, 2 plan has changes (go),
                64 usage error, 130 / 143 interrupted (SIGINT / SIGTERM).

    Example: dmsctl plan --env staging
    """
    ctx.obj = Settings(debug=debug, config_dir=config_dir)


def main() -> None:
    cli.main(prog_name="dmsctl")
