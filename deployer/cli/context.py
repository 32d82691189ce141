"""What every command shares: the config tree it works on, found once, and the options that pick it.

The config tree is the folder holding ``base.yaml`` and ``teams/``. Without ``--config-dir`` (or
``DMSCTL_CONFIG_DIR``) dmsctl walks up from the current directory to the first folder that holds
``configs/base.yaml``, the way git finds its repository, so every command works from anywhere in a
config repository (``configs/teams/`` included).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from dmsctl.deployer.errors import DmsctlError

CONFIG_FOLDER = "configs"
BASE_FILE = "base.yaml"


@dataclass(frozen=True)
class Settings:
    """The group's options, kept on the click context (``ctx.obj``)."""

    debug: bool = False
    config_dir: str | None = None  # --config-dir / DMSCTL_CONFIG_DIR; None: discover


def discover(start: Path) -> Path | None:
    """The nearest ``configs/`` with a base.yaml at or above `start`, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FOLDER / BASE_FILE).is_file():
            return folder / CONFIG_FOLDER
    return None


def config_dir(ctx: click.Context) -> Path:
    """The config tree this command works on (``--config-dir``, else discovered), or a clear error."""
    settings = ctx.find_object(Settings) or Settings()
    if settings.config_dir is not None:
        return Path(settings.config_dir)
    found = discover(Path.cwd())
    if found is None:
        raise DmsctlError(f"no {CONFIG_FOLDER}/{BASE_FILE} in {Path.cwd()} or any folder above it: run dmsctl "
                          "inside a config repository, or pass --config-dir DIR (or set DMSCTL_CONFIG_DIR)")
    return _shown(found)


def repository_root(ctx: click.Context) -> Path:
    """The folder that holds the config tree (where .github/ lives in a config repository)."""
    return config_dir(ctx).resolve().parent


def _shown(path: Path) -> Path:
    """`path` relative to the current directory when that is inside the same repository (diagnostics then
    read ``configs/teams/x.yaml`` or ``../teams/x.yaml``, clickable from the terminal); absolute otherwise."""
    cwd = Path.cwd().resolve()
    if cwd == path.parent or path.parent in cwd.parents:
        return Path(os.path.relpath(path, cwd))
    return path


def env_option(f):
    """--env (DMSCTL_ENV): one environment of base.yaml."""
    return click.option("--env", "env", default=None, envvar="DMSCTL_ENV", show_envvar=True, metavar="NAME",
                        help="Environment of base.yaml (default: its default_environment).")(f)


def use_color(no_color: bool) -> bool:
    """--no-color, then NO_COLOR (when non-empty, per no-color.org), then FORCE_COLOR, then: a terminal?"""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def no_color_option(f):
    return click.option("--no-color", is_flag=True,
                        help="No ANSI colour (also NO_COLOR=1; FORCE_COLOR=1 forces colour).")(f)
