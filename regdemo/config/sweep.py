"""The ``sweep:`` block: its axes, the number of runs it makes (counted before any is built), and
the run names derived from swept values.

A sweep maps dotted field paths to lists of values; :func:`regdemo.config.load_experiment` crosses
every ``runs:`` variant with every point of the grid. Shape errors are reported here, each as one
:class:`ConfigError` line ``file:LINE: sweep...: reason``; the values themselves are validated with
the runs they make.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from regdemo.config.yamlfile import Key, show
from regdemo.errors import ConfigError


@dataclass(frozen=True)
class SweepAxis:
    """One swept field: its dotted path, key tuple, values and the line of each value."""

    path: str
    key: Key
    values: list[Any]
    lines: list[int]


# Fields a sweep or --set may not touch: they name things rather than configure them.
RESERVED = ("name", "runs", "sweep", "experiment", "variant")


def sweep_axes(data: dict[str, Any], lines: dict[Key, int], source: str) -> list[SweepAxis]:
    """The ``sweep:`` block as axes, in file order; shape errors are reported here, values later."""
    sweep = data.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ConfigError(f"{source}:{lines.get(('sweep',), 1)}: sweep: must be a mapping (got {show(sweep)})")
    axes = []
    for path, values in sweep.items():
        line = lines.get(("sweep", path), 1)
        key = tuple(str(path).split("."))
        if not all(key) or key[0] in RESERVED:
            raise ConfigError(f"{source}:{line}: sweep.{path}: not a field that can be swept")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}:{line}: sweep.{path}: must be a non-empty list (got {show(values)})")
        item_lines = [lines.get(("sweep", path, j), line) for j in range(len(values))]
        axes.append(SweepAxis(str(path), key, values, item_lines))
    return axes


def check_run_count(variants: int, axes: list[SweepAxis], lines: dict[Key, int], source: str, max_runs: int) -> None:
    """Refuse more than ``max_runs`` runs, counted as variants × sweep values before any is built."""
    count = variants * math.prod(len(axis.values) for axis in axes)
    if count <= max_runs:
        return
    field = "sweep" if axes else "runs"
    sizes = " × ".join(str(len(axis.values)) for axis in axes)
    made = f"{variants} variant(s) × {sizes} sweep values" if axes else f"{variants} variants"
    raise ConfigError(
        f"{source}:{lines.get((field,), 1)}: {field}: {count:,} runs ({made}), more than the limit of "
        f"{max_runs:,}; --max-runs N raises it"
    )


def _format_value(value: Any) -> str:
    """A swept value as it appears in a run name: ``0.001``, ``l2``, ``128x128``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "x".join(_format_value(v) for v in value)
    return str(value)


def sweep_run_name(variant: str | None, point: dict[str, Any]) -> str:
    """``variant__lambda-0.001__seed-1``: the variant (if several), then ``field-value`` per swept field.

    The field is the last part of its dotted path (``model.regularizer.lambda`` → ``lambda``), or the
    whole path with dots when two swept paths end alike. Characters outside ``[A-Za-z0-9._-]`` become ``_``.
    """
    tails = [path.split(".")[-1] for path in point]
    parts = [variant] if variant else []
    for path, value in point.items():
        field = path.split(".")[-1] if tails.count(path.split(".")[-1]) == 1 else path
        parts.append(f"{field}-{_format_value(value)}")
    return re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(parts))


def check_unique_names(names: Sequence[str], lines: dict[Key, int], source: str) -> None:
    """Two sweep points may still format to one name (0.1 and 0.10): that is an error, not an overwrite."""
    seen: set[str] = set()
    for name in names:  # a set, not names.count: sweeps reach thousands of runs
        if name in seen:
            line = lines.get(("sweep",), 1)
            raise ConfigError(f"{source}:{line}: sweep: two runs would share the name {name!r}")
        seen.add(name)
