"""A compiled stack's template is parsed once and shared: a plan asks for it about seven times."""

from __future__ import annotations

import json

from dmsctl.compiler.build import compile_tree
from tests.helpers import EXAMPLES


def test_the_template_is_parsed_once_per_stack():
    stack = compile_tree(EXAMPLES, "staging").require_tree().stacks[1]
    assert stack.template is stack.template
    assert stack.template == json.loads(stack.body)
