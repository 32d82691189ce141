"""Plan renderers: pure functions of a Plan (plus presentation options) returning a string.

- `render_text(plan, color=False)`: the terminal, Terraform-like;
- `render_markdown(plan, artifact_hint=..., limit=65_536)`: the pull-request comment, size-capped;
- `render_json(plan)`: the plan file (`plan.to_json()`).
"""

from __future__ import annotations

from dmsctl.deployer.plan import Plan
from dmsctl.deployer.render.json_render import render_json
from dmsctl.deployer.render.markdown import render_markdown
from dmsctl.deployer.render.text import render_text

FORMATS = ("text", "markdown", "json")


def render(plan: Plan, fmt: str, *, color: bool = False, artifact_hint: str | None = None) -> str:
    """Dispatch on a `--format` value; options that do not apply to `fmt` are ignored."""
    if fmt == "text":
        return render_text(plan, color=color)
    if fmt == "markdown":
        return render_markdown(plan, artifact_hint) if artifact_hint else render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    raise ValueError(f"unknown plan format {fmt!r}: expected one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text"]
