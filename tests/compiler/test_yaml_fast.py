"""Config files are composed by libyaml when they hold no anchor or alias (compiler/yamlsource.py): the same
data, positions and texts as the pure-Python path, and a `*` or `&` that is only text keeps the fast path."""

from __future__ import annotations

import pytest

from dmsctl.compiler import yamlsource
from tests.helpers import REPO

SCENARIOS = REPO / "sandbox" / "scenarios"
STARS = 'team: alpha\nschedule: {expression: "cron(0 * * * ? *)"}  # every hour, * and & in a comment\nn: &\n'


def _python_path(text: str, monkeypatch) -> yamlsource.SourceDoc:
    with monkeypatch.context() as m:
        m.setattr(yamlsource, "_compose_fast", lambda text: yamlsource._FAILED)
        return yamlsource.parse_yaml(text, "f.yaml")


def _same(a: yamlsource.SourceDoc, b: yamlsource.SourceDoc) -> bool:
    return (a.data, a.positions, a.texts) == (b.data, b.positions, b.texts)


def test_every_example_file_parses_the_same_on_both_paths(monkeypatch):
    files = sorted(SCENARIOS.rglob("*.yaml"))
    assert any("*" in f.read_text() for f in files)  # the demo's schedules have cron stars
    for f in files:
        text = f.read_text()
        assert _same(yamlsource.parse_yaml(text, "f.yaml"), _python_path(text, monkeypatch)), f


@pytest.mark.parametrize("text", [STARS.replace("n: &\n", "n: '&'\n"), "a: ['*', \"&x\"]\nb: x*y&z\n"])
def test_stars_and_ampersands_in_text_take_the_fast_path(text, monkeypatch):
    def no_python_loader(*args, **kwargs):
        raise AssertionError("the pure-Python composer was used")

    expected = _python_path(text, monkeypatch)
    monkeypatch.setattr(yamlsource, "_Loader", no_python_loader)
    assert _same(yamlsource.parse_yaml(text, "f.yaml"), expected)


@pytest.mark.parametrize("text", ["a: &x 1\nb: 2\n", "a: &x 1\nb: *x\n", "a: [1, *x]\n"])
def test_an_anchor_or_alias_still_takes_the_python_path_and_its_message(text):
    with pytest.raises(yamlsource.YamlError) as caught:
        yamlsource.parse_yaml(text, "f.yaml")
    assert caught.value.diagnostics[0].code in ("E100", "E102")
