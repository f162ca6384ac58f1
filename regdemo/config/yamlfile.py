"""Reading a YAML config within bounds: its text, its data, and the line every value came from.

Owns what reading a config may cost. A config is a few kB of settings, so anything far larger is
refused before it is built, each as one :class:`ConfigError` line ``file:LINE: reason``:

- the file: at most :data:`MAX_BYTES`, and UTF-8 text;
- nesting: at most :data:`MAX_DEPTH` levels, checked while PyYAML composes (a 20,000-deep file would
  otherwise end in a RecursionError);
- size: at most :data:`MAX_NODES` values once aliases are expanded, counted on PyYAML's node graph
  with each shared node's count remembered, so a "billion laughs" file of nested anchors and aliases
  is refused in milliseconds instead of being expanded by the line map, the merge and the validation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.reader import ReaderError

from regdemo.errors import ConfigError
from regdemo.textsafe import EXCERPT

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_NODES = 100_000

Key = tuple[str | int, ...]


class _Limit(Exception):
    """Raised by the loader when the YAML passes a bound; carries the 1-based line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads YAML 1.2 floats such as ``1e-3`` (PyYAML wants ``1.0e-3``), composes at
    most :data:`MAX_DEPTH` levels deep, and reports a tagged scalar it cannot convert (``!!int x``)
    as a YAML error at its line instead of a bare ValueError."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, token_class: type) -> None:
        # A line of 20,000 '[' would otherwise be scanned ahead ~1,000 characters at a time (each one a
        # possible key) before the composer could count its depth: stop the scanner itself.
        if self.flow_level >= MAX_DEPTH:
            raise _Limit(self.get_mark().line + 1, f"nested more than {MAX_DEPTH} levels deep")
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # PyYAML composes recursively (a few Python frames per level): stop long before the recursion limit
        if self._depth >= MAX_DEPTH:
            raise _Limit(self.peek_event().start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            shown = f" {node.value!r}"[:60] if isinstance(node, yaml.ScalarNode) else ""
            problem = f"cannot read {node.tag}{shown}: {exc}"
            raise ConstructorError(None, None, problem, node.start_mark) from None


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def read_text(path: str | Path, source: str) -> str:
    """The file's text: at most :data:`MAX_BYTES`, UTF-8 (the line of the first bad byte is named)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # no more than that, whatever the file (/dev/zero included)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_BYTES:,} bytes; a config is a few kB of settings")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise ConfigError(f"{source}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})") from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Raise :class:`_Limit` if ``root``, its aliases expanded, holds more than :data:`MAX_NODES` nodes
    or nests deeper than :data:`MAX_DEPTH`, or if an alias refers to a node that contains it.

    Each node's expanded size and height are computed once (aliases share nodes), so this costs
    time in the number of distinct nodes, not in the size of the expansion.
    """
    sizes: dict[int, tuple[int, int] | None] = {}  # id(node) → (expanded size, height); None while visiting

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        line = node.start_mark.line + 1
        key = id(node)
        if key in sizes:
            known = sizes[key]
            if known is None:
                raise _Limit(line, "an alias refers to a node that contains it (a structure without end)")
        else:
            sizes[key] = None
            size, height = 1, 0
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height)
                if size > MAX_NODES:
                    raise _Limit(line, f"holds more than {MAX_NODES:,} values once its aliases are expanded")
            known = sizes[key] = (size, height + 1)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise _Limit(line, f"nested more than {MAX_DEPTH} levels deep once its aliases are expanded")
        return known

    visit(root, 1)


def _walk_lines(node: yaml.Node, key: Key, lines: dict[Key, int], source: str) -> None:
    """Record the 1-based line of every mapping value and sequence item under ``node``."""
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = f"{source}:{key_node.start_mark.line + 1}"
                raise ConfigError(f"{where}: {dotted(key) or '(top level)'}: keys must be names, not lists or mappings")
            name = key_node.value
            if name in seen:
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: {dotted((*key, name))}: duplicate key")
            seen.add(name)
            _walk_lines(value_node, (*key, name), lines, source)
            lines[(*key, name)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk_lines(item, (*key, i), lines, source)


def dotted(key: Key) -> str:
    """``("runs", 1, "model")`` → ``runs[1].model``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def show(value: Any, limit: int = EXCERPT) -> str:
    """A value as an error message quotes it: a string in quotes, a mapping as "a mapping", anything
    else as flow YAML, on one line and cut after ``limit`` characters (a short excerpt: the value may
    be a file's content, e.g. a config that is a link to a private file)."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping"
    else:
        dumped = yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...")
        text = " ".join(dumped.split())  # a multi-line dump (e.g. !!binary) on one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_yaml(text: str, source: str) -> tuple[Any, dict[Key, int]]:
    """Parse YAML safely and within bounds; return the data and a map from key paths to line numbers."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            _check_expansion(node)
            lines: dict[Key, int] = {}
            _walk_lines(node, (), lines, source)
            return loader.construct_document(node), lines
        finally:
            loader.dispose()
    except _Limit as exc:
        raise ConfigError(f"{source}:{exc.line}: {exc.reason}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = ": ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        kind = "YAML" if isinstance(exc, ConstructorError) else "YAML syntax"  # a tag, not the syntax
        raise ConfigError(f"{source}:{line}: {kind}: {reason}") from None
    except ReaderError as exc:  # a character YAML does not allow (NUL, most control characters)
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{source}:{line}: YAML: character #x{exc.character:04x} is not allowed") from None
