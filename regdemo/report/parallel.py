"""The data of report.html's parallel-coordinates panel: one axis per varying field and per chosen result column,
each run one line across them (drawn, brushed and coloured by the page's script, report/templates/parallel.js).

Pure, as :mod:`regdemo.report.viewer` (whose JSON document carries this as ``parallel``): the runs' coordinates
(:func:`regdemo.draw.layout.coordinates`) in, a mapping out. Only an experiment with two or more varying fields
gets a panel. A field's axis is a log axis when its values are λ-like (numbers, none negative, the positive ones
spanning more than a decade; a 0 gets its own place below them), a linear axis for other numbers, evenly spaced
points for anything else. The result axes are read from the viewer's numbers, so they show exactly metrics.json's.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from regdemo.draw import layout
from regdemo.results.summary import is_number

# The result columns shown as axes (those the experiment has), and the one the lines are coloured by at first.
RESULT_AXES = ("val_data_loss", "generalization_gap", "val_accuracy", "first_layer_frac_near_zero")
COLOUR = "val_accuracy"
MIN_FIELDS = 2  # fewer varying fields: the viewer's controls already show every run
DECADE = 10.0


def scale(values: Sequence[Hashable]) -> str:
    """``log`` for λ-like numbers (none negative, the positive ones spanning more than a decade), ``linear`` for
    other numbers, ``points`` for anything else (None, a missing value, is left out)."""
    present = [v for v in values if v is not None]
    if not present or not all(is_number(v) for v in present):
        return "points"
    positive = [float(v) for v in present if v > 0]
    if min(present) >= 0 and len(positive) >= 2 and max(positive) / min(positive) > DECADE:
        return "log"
    return "linear"


def field_axis(field: str, label: str, values: Sequence[Hashable]) -> dict[str, Any]:
    """One field's axis: ``{name, label, scale, values}``, a value per run (a number, or for ``points`` the
    index of the run's value in ``categories``, ordered as the viewer's controls order them)."""
    kind = scale(values)
    axis: dict[str, Any] = {"name": field, "label": label, "scale": kind}
    if kind == "points":
        order = layout.ordered_values([{field: v} for v in values], field)
        axis["categories"] = ["–" if v is None else layout.show(v) for v in order]
        axis["values"] = [order.index(v) for v in values]
    else:
        axis["values"] = [None if v is None else float(v) for v in values]
    return axis


def panel(coords: Sequence[Mapping[str, Hashable]], metrics: Sequence[str]) -> dict[str, Any] | None:
    """The panel's data for runs at ``coords`` (a run's place: experiment, variant, swept values), its result
    axes among ``metrics`` (the viewer's numbers); None with fewer than :data:`MIN_FIELDS` varying fields."""
    fields = layout.varying_fields(coords)
    if len(fields) < MIN_FIELDS:
        return None
    labels = layout.short_names(fields)
    axes = [field_axis(f, labels[f], [c.get(f) for c in coords]) for f in fields]
    return {
        "axes": axes,
        "results": [m for m in RESULT_AXES if m in metrics],
        "colour": COLOUR if COLOUR in metrics else (metrics[0] if metrics else None),
    }
