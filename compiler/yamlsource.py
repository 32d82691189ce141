"""Load YAML keeping the source position of every mapping key and list item.

The result is plain Python data (dicts, lists, scalars) plus a `Positions` index from a JSON path
(a tuple of keys and list indexes) to where that value starts in the file. Duplicate keys, which
PyYAML silently accepts, are errors. Anchors/aliases and custom tags are rejected: a config file
should say what it means where it says it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dmsctl.compiler.diagnostics import Diagnostic, Position

JsonPath = tuple[str | int, ...]  # keys and list indexes; ("<key>", *path) for a mapping key's own position
Positions = dict[JsonPath, tuple[int, int]]  # path -> (line, column), 1-based
Texts = dict[JsonPath, str]  # path -> the scalar as written, for values YAML read as a bool, number or null

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class SourceDoc:
    """One parsed file: its data and where every value came from."""

    path: str
    data: object
    positions: Positions = field(default_factory=dict, compare=False, repr=False)
    texts: Texts = field(default_factory=dict, compare=False, repr=False)
    sha256: str = field(default="", compare=False, repr=False)  # of the file's bytes ("" for parsed text)

    def mapping(self) -> dict[str, Any]:
        """`data` as the mapping a schema-checked config file is (check_schema reports anything else, E106)."""
        if not isinstance(self.data, dict):
            raise ValueError(f"{self.path}: expected a mapping, got {type(self.data).__name__}")
        return self.data

    def pos(self, path: JsonPath) -> Position:
        """Position of the value at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                line, col = self.positions[path]
                return Position(self.path, line, col)
            path = path[:-1]
        line, col = self.positions.get((), (1, 1))
        return Position(self.path, line, col)

    def key_pos(self, path: JsonPath) -> Position:
        """Position of the mapping key itself (for 'unknown field' style messages)."""
        key = ("<key>",) + tuple(path)
        if key in self.positions:
            line, col = self.positions[key]
            return Position(self.path, line, col)
        return self.pos(path)


class YamlError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.positions: Positions = {}
        self.texts: Texts = {}
        self.errors: list[Diagnostic] = []

    def _pos(self, node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _error(self, code: str, message: str, node: Node) -> None:
        line, col = self._pos(node)
        self.errors.append(Diagnostic(code=code, message=message, file=self.path, line=line, column=col))

    def build(self, node: Node, path: JsonPath) -> object:
        self.positions[path] = self._pos(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag in (_BOOL, _INT, _FLOAT, _NULL):
            self.texts[path] = node.value  # `table: no` reads as false: messages quote what was written
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, object]:
        out: dict[str, object] = {}
        first_seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._error("E102", "YAML merge keys (<<) are not allowed: write the values out", key_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._error("E102", "mapping keys must be plain strings", key_node)
                continue
            key = self._scalar(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in out:
                line, _ = first_seen[key]
                self._error("E101", f"duplicate key '{key}' (first defined on line {line})", key_node)
                continue
            first_seen[key] = self._pos(key_node)
            self.positions[("<key>",) + path + (key,)] = self._pos(key_node)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: Node) -> object:
        """A scalar node's value (build: any node that is not a mapping or a sequence)."""
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag in (_BOOL, _INT, _FLOAT, _NULL):
            return _SCALARS.construct_object(node)
        if tag.startswith("tag:yaml.org,2002:"):
            # timestamps and other implicit types: keep the text as written
            return node.value
        self._error("E102", f"custom YAML tag '{tag}' is not allowed", node)
        return node.value


# Builds the few implicit scalar types (bool, int, float, null) exactly as safe_load would.
_SCALARS = yaml.constructor.SafeConstructor()


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers where the first anchor or alias is (composed nodes do not say)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.first_anchor = None

    def compose_node(self, parent, index):
        event = self.peek_event()
        if self.first_anchor is None and (isinstance(event, AliasEvent) or getattr(event, "anchor", None)):
            self.first_anchor = event.start_mark
        return super().compose_node(parent, index)


class _Composed(Enum):
    FAILED = "failed"


_FAILED = _Composed.FAILED


def _has_anchor(loader_class: type, text: str) -> bool:
    """Whether libyaml's parser sees an anchor or an alias (or an error) in `text`: the events say it,
    composed nodes do not. `&` and `*` are mostly text (cron's `*`), and this pass is C too."""
    loader = loader_class(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                return True
        return False
    except yaml.YAMLError:
        return True
    finally:
        loader.dispose()


def _compose_fast(text: str) -> Node | None | Literal[_Composed.FAILED]:
    """libyaml's composer (C, same nodes and marks) for text without an anchor or alias;
    _FAILED when it cannot be used or the text has an error (the Python path below then reports it)."""
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None or (("&" in text or "*" in text) and _has_anchor(loader_class, text)):
        return _FAILED
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError:
        return _FAILED
    finally:
        loader.dispose()


def _hint(exc: yaml.MarkedYAMLError) -> str:
    """What to do about a syntax error, for a person: the parser only says where it gave up."""
    problem, context = exc.problem or "", exc.context or ""
    opened = exc.context_mark.line + 1 if exc.context_mark else None
    if "mapping values are not allowed" in problem:
        return "a value that contains ': ' must be quoted (key: \"a: b\"), or the line is indented too far"
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "quoted scalar" in context and opened:
        return f"the quoted value opened on line {opened} is not closed"
    if ("flow sequence" in context or "flow mapping" in context) and opened:
        bracket = "[" if "sequence" in context else "{"
        return f"the {bracket} opened on line {opened} is not closed, or two of its items lack a comma between them"
    if "could not find expected ':'" in problem:
        return "each line of a mapping is `key: value` (a space after the colon); check this line and the one above"
    if "block end" in problem or "expected key" in problem:
        return "check the indentation of this line: it must line up with the other keys of its block"
    return "the mistake is often just before this point: on the line above, or an opening bracket or quote further up"


def parse_yaml(text: str, path: str) -> SourceDoc:
    """Parse YAML text into a SourceDoc, raising YamlError with positioned diagnostics."""
    fast = _compose_fast(text)
    if fast is not _FAILED:
        return _build(fast, path)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlError([Diagnostic("E100", f"invalid YAML: {problem}{context}", path, line, col,
                                    hint=_hint(exc))]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at an offset in the text
        before = text[:exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        problem = str(exc).splitlines()[0]
        hint = "remove the control character (a config file is plain UTF-8 text)"
        raise YamlError([Diagnostic("E100", f"invalid YAML: {problem}", path, line, col, hint=hint)]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Diagnostic("E100", f"invalid YAML: {exc}", path, 1, 1)]) from None
    if node is not None and loader.first_anchor is not None:
        mark = loader.first_anchor
        raise YamlError([Diagnostic("E102", "YAML anchors and aliases are not allowed: write the values out",
                                    path, mark.line + 1, mark.column + 1)])
    return _build(node, path)


def _build(node: Node | None, path: str) -> SourceDoc:
    if node is None:
        return SourceDoc(path=path, data=None, positions={(): (1, 1)})
    builder = _Builder(path)
    data = builder.build(node, ())
    if builder.errors:
        raise YamlError(builder.errors)
    return SourceDoc(path=path, data=data, positions=builder.positions, texts=builder.texts)


def load_yaml_file(file: Path, display_path: str | None = None, data: bytes | None = None) -> SourceDoc:
    """Parse `file` (its bytes `data` when the caller has read them already); the SourceDoc carries
    the SHA-256 of the bytes (compile cache keys: compiler/cache.py)."""
    shown = display_path or str(file)
    try:
        raw = file.read_bytes() if data is None else data
        # universal newlines, as reading in text mode gives
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        before = exc.object[:exc.start]
        line, col = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError([Diagnostic("E100", f"file is not valid UTF-8: {exc.reason}", shown, line, col,
                                    hint="save the file as UTF-8")]) from None
    except OSError as exc:
        raise YamlError([Diagnostic("E100", f"cannot read file: {exc.strerror}", shown)]) from None
    return replace(parse_yaml(text, shown), sha256=hashlib.sha256(raw).hexdigest())
