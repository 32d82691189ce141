"""`dmsctl schema team|base|acknowledgements|plan`: the JSON Schemas of the config files (for editors, tools) and of
the JSON plan."""

from __future__ import annotations

import click

from dmsctl.compiler.data import schemas_dir

KINDS = {"team": "team.schema.json", "base": "base.schema.json", "acknowledgements": "acknowledgements.schema.json",
         "plan": "plan.schema.json"}


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)))
def schema(kind: str) -> None:
    """Print the JSON Schema (draft 2020-12) of a team file, of base.yaml, of acknowledgements.yaml, or of a plan
    file (plan --format json).

    Example: dmsctl schema team > team.schema.json
    """
    click.echo((schemas_dir() / KINDS[kind]).read_text(), nl=False)
