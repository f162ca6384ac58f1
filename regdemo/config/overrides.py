"""Overrides of fields in every run: a mapping of dotted field path → Python value (``{"training.epochs":
500}``), as :func:`regdemo.run`'s ``sets`` gives them and :func:`parse_sets` makes of the command line's
``--set key.path=value`` texts (the only place such a text is parsed). Merging, too: :func:`deep_merge`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from regdemo.config.yamlfile import Key, load_yaml
from regdemo.errors import ConfigError

# A run's own name and its place in the file are not fields to override: edit the file.
FIXED = ("name", "runs", "experiment")


def parse_set(assignment: str, source: str) -> tuple[str, Any]:
    """``"model.regularizer.lambda=0.01"`` → ``("model.regularizer.lambda", 0.01)``.

    The value is read as YAML, so ``5`` is an int, ``1e-3`` a float and ``[64, 64]`` a list.
    """
    path, sep, raw = assignment.partition("=")
    key = tuple(path.strip().split("."))
    if not sep or not all(key):
        raise ConfigError(f"{source}: --set {assignment}: expected key.path=value")
    if key[0] in FIXED:
        raise ConfigError(f"{source}: --set {path}: cannot be overridden; edit the file")
    value, _ = load_yaml(raw, f"{source}: --set {path}") if raw.strip() else ("", {})
    return ".".join(key), value


def parse_sets(assignments: Sequence[str], source: str) -> dict[str, Any]:
    """The command line's ``--set`` texts as overrides (a later one of the same field wins, as in a merge)."""
    return dict(parse_set(assignment, source) for assignment in assignments)


def override_keys(overrides: Mapping[str, Any], source: str) -> list[tuple[Key, Any]]:
    """``overrides`` as (key tuple, value) pairs, every key checked: a dotted path of a field that may be set.
    Tuples become lists and paths strings, so a value reads as it would from YAML."""
    pairs = []
    for path, value in overrides.items():
        key = tuple(path.split(".")) if isinstance(path, str) and "=" not in path else ()
        if not all(key) or not key:
            raise ConfigError(f"{source}: --set {path!r}: a key is a dotted field path such as 'training.epochs'")
        if key[0] in FIXED:
            raise ConfigError(f"{source}: --set {path}: cannot be overridden; edit the file")
        pairs.append((key, _as_yaml_reads(value)))
    return pairs


def _as_yaml_reads(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_as_yaml_reads(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _as_yaml_reads(v) for k, v in value.items()}
    return str(value) if isinstance(value, PurePath) else value


def nest(key: Key, value: Any) -> dict[str, Any]:
    """``(("a", "b"), 1)`` → ``{"a": {"b": 1}}``."""
    for part in reversed(key):
        value = {part: value}
    return value


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in: mappings merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
