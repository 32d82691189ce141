"""Values enter a rendered template as placeholders, replaced after parsing (compiler/render.py): the result
is the data the JSON text of each value would have parsed to, and nothing in a value is read as template."""

from __future__ import annotations

import pytest
import yaml

from dmsctl.compiler import render
from dmsctl.compiler.build import compile_tree
from tests.helpers import EXAMPLES


@pytest.fixture
def template_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "TEMPLATE_DIR", tmp_path)
    render._environment.cache_clear()
    yield tmp_path
    render._environment.cache_clear()


def _through_json_text(name: str, context: dict) -> object:
    """The old way: every value written as JSON into the YAML text, the whole text parsed."""
    assert render._VALUES.get() is None  # outside render_template the filter writes JSON
    return yaml.safe_load(render._environment().get_template(name).render(**context))


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_example_stack_renders_as_through_json_text(env):
    config = compile_tree(EXAMPLES, env).require_config()
    jobs = [("base.yaml.j2", render.base_context(config))]
    for team in config.teams:
        jobs.append(("team.yaml.j2", render.team_context(config, team)))
        jobs += [("tasks.yaml.j2", render.tasks_context(config, team, g)) for g in render.task_groups(team)]
    for name, context in jobs:
        assert render.render_template(name, context) == _through_json_text(name, context), name


def test_a_value_that_looks_like_a_placeholder_is_kept_as_written(template_dir):
    (template_dir / "t.yaml.j2").write_text(
        'A: {{ a | json }}\nB: "@v0@x"\nC: [{{ b | json }}, {Ref: X}]\nD: {{ c | json }}\nE: 3\n')
    context = {"a": "@v1@", "b": (1, {"k": None, "n": True}), "c": "line\nbreak \x7f é"}
    out = render.render_template("t.yaml.j2", context)
    assert out == {"A": "@v1@", "B": "@v0@x", "C": [[1, {"k": None, "n": True}], {"Ref": "X"}],
                   "D": "line\nbreak \x7f é", "E": 3}
    assert out == _through_json_text("t.yaml.j2", context)


def test_a_value_is_copied_so_the_template_shares_nothing_with_the_context(template_dir):
    (template_dir / "t.yaml.j2").write_text("A: {{ tags | json }}\nB: {{ tags | json }}\n")
    tags = [{"Key": "k", "Value": "v"}]
    out = render.render_template("t.yaml.j2", {"tags": tags})
    out["A"][0]["Value"] = "changed"
    assert out["B"] == tags == [{"Key": "k", "Value": "v"}]


def test_a_missing_value_is_a_render_error_naming_it(template_dir):
    (template_dir / "t.yaml.j2").write_text("A: 1\nB: {{ [team.nope] | json }}\n")
    with pytest.raises(render.RenderError) as caught:
        render.render_template("t.yaml.j2", {"team": {"name": "x"}})
    assert caught.value.line == 2 and "nope" in caught.value.message


def test_a_value_json_cannot_hold_is_refused(template_dir):
    (template_dir / "t.yaml.j2").write_text("A: {{ v | json }}\n")
    with pytest.raises(TypeError, match="not JSON serializable"):
        render.render_template("t.yaml.j2", {"v": {1, 2}})
