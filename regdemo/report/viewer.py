"""The data of report.html's interactive viewer: every run's place among the others, numbers, loss history
and pictures, as one JSON document the page's script reads.

Pure: runs come in as :class:`regdemo.results.rundir.LoadedRun` with their summary rows (:mod:`regdemo.results.summary`,
the one owner of a row's numbers) and where the page finds their pictures (:class:`RunMedia`, decided
by :mod:`regdemo.report`); a mapping comes out, and :func:`script_json` turns it into text that is
safe inside a ``<script>`` element. Nothing here reads or writes a file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regdemo.draw import layout
from regdemo.report import parallel
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import is_number, result_columns

# The curves of the viewer's loss chart: data loss always, the loss with its penalty only when there is one
# (as the run's loss.png draws them).
DATA_CURVES = ("data_loss", "val_data_loss")
PENALTY_CURVES = ("loss", "val_loss")
SIGNIFICANT = 4  # digits of a history point: the chart is a few hundred pixels high (3 do on an index page)
RUN_FIELD = "run"  # the one control when the swept values do not tell every run apart


@dataclass(frozen=True)
class RunMedia:
    """Where the page finds one run's pictures.

    ``images``: picture name (``boundary``, ``weights``) → the id of an <img> already on the page
    (self-contained form) or a URL relative to the page (index form); ``frames``: the training
    film's frames stacked top to bottom (a data URI or a relative URL; '' without a film), one per
    entry of ``frame_epochs``.
    """

    images: dict[str, str] = field(default_factory=dict)
    frames: str = ""
    frame_epochs: Sequence[int] = ()


def downsample(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` points, evenly spread, the first and last always kept: shape (k,)."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.rint(np.linspace(0, n - 1, most)).astype(np.int64))


def significant(values: np.ndarray, digits: int = SIGNIFICANT) -> list[float | None]:
    """Values of shape (k,) rounded to ``digits`` significant digits; non-finite ones None (JSON has no NaN)."""
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in values.tolist()]


def _exact(value: Any) -> float | int | None:
    """A summary number as it is (so the page shows metrics.json's value); None for anything else."""
    if is_number(value) and math.isfinite(value):
        return value
    return None


def history_points(history: Mapping[str, np.ndarray], most: int, digits: int = SIGNIFICANT) -> dict[str, list]:
    """A run's curves for the loss chart, at most ``most`` points each, ``digits`` significant digits:
    ``epoch`` (from 1) and the curves."""
    if not history:
        return {}
    n = len(history[DATA_CURVES[0]])
    keep = downsample(n, most)
    curves = DATA_CURVES
    penalty = history.get("penalty")
    if penalty is not None and np.nanmax(np.where(np.isfinite(penalty), penalty, np.nan), initial=0.0) > 0:
        curves += PENALTY_CURVES
    return {"epoch": (keep + 1).tolist(), **{name: significant(history[name][keep], digits) for name in curves}}


def _fields(coords: Sequence[Mapping[str, Hashable]], labels: Sequence[str]) -> tuple[list[dict], list[list[int]]]:
    """The viewer's controls and each run's place on them: ``[{name, label, values}]`` and, per run,
    the index of its value in each control's ``values``.

    One control per varying field (experiment, variant, swept fields in first-seen order, replicates
    such as seeds last; values ordered as :func:`regdemo.draw.layout.ordered_values`); when those do not
    tell every run apart, one control listing the runs by name instead.
    """
    fields = layout.varying_fields(coords)
    points = [tuple(c.get(f) for f in fields) for c in coords]
    if len(set(points)) < len(points):
        return [{"name": RUN_FIELD, "label": RUN_FIELD, "values": list(labels)}], [[i] for i in range(len(labels))]
    names = layout.short_names(fields)
    orders = [layout.ordered_values(coords, f) for f in fields]
    controls = [
        {"name": f, "label": names[f], "values": ["–" if v is None else layout.show(v) for v in order]}
        for f, order in zip(fields, orders, strict=True)
    ]
    ranks = [{v: i for i, v in enumerate(order)} for order in orders]
    return controls, [[rank[v] for rank, v in zip(ranks, point, strict=True)] for point in points]


def numeric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The numbers table's metrics: the summary's result columns that are a number in some run."""
    return [c for c in result_columns({}) if any(_exact(row.get(c)) is not None for row in rows)]


def viewer_data(
    runs: Sequence[LoadedRun],
    rows: Sequence[Mapping[str, Any]],
    media: Sequence[RunMedia],
    by_id: bool,
    points: int,
    digits: int = SIGNIFICANT,
) -> dict[str, Any]:
    """The viewer's JSON document for these runs (``rows`` their summary rows, ``media`` their pictures,
    all in the same order).

    ``by_id``: the pictures are <img> ids on the page (else URLs); ``points``, ``digits``: at most this
    many history points per curve, with this many significant digits. Each run: ``label``, ``status``,
    ``error``, ``at`` (its place on the controls), ``numbers`` (one per ``metrics`` entry, exactly the
    summary's, None where missing), ``history``, ``images`` and ``film`` (``{src, epochs}`` or None).
    ``parallel``: the parallel-coordinates panel's axes (:func:`regdemo.report.parallel.panel`), or None.
    """
    coords = [layout.coordinates(run) for run in runs]
    controls, places = _fields(coords, [run.label for run in runs])
    metrics = numeric_columns(rows)
    entries = []
    for run, row, place, seen in zip(runs, rows, places, media, strict=True):
        film = {"src": seen.frames, "epochs": list(seen.frame_epochs)} if seen.frames and seen.frame_epochs else None
        entries.append(
            {
                "label": run.label,
                "status": run.status,
                "error": run.error,
                "at": place,
                "numbers": [_exact(row.get(m)) for m in metrics],
                "history": history_points(run.history, points, digits),
                "images": dict(seen.images),
                "film": film,
            }
        )
    return {
        "images": "ids" if by_id else "urls",
        "fields": controls,
        "metrics": metrics,
        "runs": entries,
        "parallel": parallel.panel(coords, metrics),
    }


# Characters that could end the <script> element or start an HTML comment in it, written as JSON escapes.
_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(data: Any) -> str:
    """``data`` as compact JSON that is safe as the text of a ``<script type="application/json">``: no
    ``<``, ``>`` or ``&`` appears (they are ``\\u003c`` …), so no value can close the element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).translate(_UNSAFE)
