"""`dmsctl schema team|base|acknowledgements`: the JSON Schemas the config files are validated against (for editors, tools)."""

from __future__ import annotations

import click

from dmsctl.compiler.data import schemas_dir

KINDS = {"team": "team.schema.json", "base": "base.schema.json", "acknowledgements": "acknowledgements.schema.json"}


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)))
def schema(kind: str) -> None:
    """Print the JSON Schema (draft 2020-12) of a team file, of base.yaml or of acknowledgements.yaml.

    Example: dmsctl schema team > team.schema.json
    """
    click.echo((schemas_dir() / KINDS[kind]).read_text(), nl=False)
