"""Page layout of comparison figures: where each run goes, and what each figure shows, computed, not drawn.

Pure: runs in (:class:`regdemo.results.rundir.LoadedRun`), layouts out: the grid pages of runs by their swept
fields (:func:`grid_pages`), the series of a sweep plot (:func:`sweep_series`) and its x axis
(:func:`x_scale`), the panels of the weights comparison (:func:`weight_panels`). :mod:`regdemo.draw.figures`
draws them with :mod:`regdemo.draw.comparison`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regdemo.draw import comparison
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import dig, is_number, sweep_fields
from regdemo.train.metrics import seed_aggregate

# Fields that replicate a run rather than change it: never a plotted axis; averaged over in sweep plots.
REPLICATE_FIELDS = ("seed", "dataset.random_state", "dataset.cv.fold")
# Strength-like fields: a log x axis whenever they have positive values (symlog when 0 is swept too).
LOG_FIELDS = ("lambda", "l1", "l2", "learning_rate")
MAX_SIDE = 6  # at most MAX_SIDE × MAX_SIDE panels per figure; more go to further pages
MAX_CURVES = 8  # densities overlaid in one weights panel
MAX_WEIGHT_PANELS = 4
SWEEP_METRICS = ("data_loss", "val_data_loss", "accuracy", "val_accuracy")  # what a sweep plot shows


# ---------------------------------------------------------------- grid pages


def _key(value: Any) -> Hashable:
    """A swept value as a dict key: lists become tuples."""
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    return value


def coordinates(run: LoadedRun) -> dict[str, Hashable]:
    """Where a run sits among others: its experiment folder, variant and swept values."""
    swept = {field: _key(value) for field, value in run.sweep.items()}
    return {"experiment": run.path.parent.name, "variant": run.variant, **swept}


def ordered_values(coords: Sequence[Mapping[str, Hashable]], field: str) -> list[Hashable]:
    """The distinct values of ``field``: numbers ascending, then the others in first-seen order."""
    values = list(dict.fromkeys(c.get(field) for c in coords))
    return sorted(v for v in values if is_number(v)) + [v for v in values if not is_number(v)]


def layout_fields(coords: Sequence[Mapping[str, Hashable]]) -> list[str]:
    """The fields that vary across these runs: most distinct values first, replicates (seeds) last."""
    fields = list(dict.fromkeys(field for c in coords for field in c))
    counts = {field: len(ordered_values(coords, field)) for field in fields}
    varying = [field for field in fields if counts[field] > 1]
    main = sorted((f for f in varying if f not in REPLICATE_FIELDS), key=lambda f: -counts[f])
    return main + [f for f in varying if f in REPLICATE_FIELDS]


def varying_fields(coords: Sequence[Mapping[str, Hashable]]) -> list[str]:
    """The fields that vary across these runs in first-seen order, replicates (seeds) last: the order of the
    report's controls and axes."""
    varying = set(layout_fields(coords))
    seen = list(dict.fromkeys(f for c in coords for f in c if f in varying))
    return [f for f in seen if f not in REPLICATE_FIELDS] + [f for f in seen if f in REPLICATE_FIELDS]


def short_names(fields: Sequence[str]) -> dict[str, str]:
    """A label per field: its last dotted part (``lambda``), or the whole path where that is ambiguous."""
    last = [field.rsplit(".", 1)[-1] for field in fields]
    return {field: short if last.count(short) == 1 else field for field, short in zip(fields, last, strict=True)}


def show(value: Any) -> str:
    """A value for a label: ``0.001``, ``l2``, ``[64, 64]``."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Page:
    """One comparison figure: ``cells[row][col]`` is an index into the runs (None = no such run).

    ``row_labels``/``col_labels`` are empty for a flat page (runs in reading order, titles on panels).
    """

    title: str
    row_labels: list[str]
    col_labels: list[str]
    cells: list[list[int | None]]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _span(part: Sequence[Any], whole: Sequence[Any], what: str) -> str:
    """``columns 7–12 of 14`` when a page shows only part of an axis, else ''."""
    if len(part) == len(whole):
        return ""
    start = whole.index(part[0]) + 1
    return f"{what} {start}–{start + len(part) - 1} of {len(whole)}"


def _flat_pages(order: Sequence[int], max_side: int) -> list[Page]:
    """Runs in reading order, ``max_side`` per row, ``max_side²`` per page."""
    n_cols = min(max_side, len(order))
    pages = _chunks(order, max_side * max_side)
    return [
        Page(_span(page, order, "runs") if len(pages) > 1 else "", [], [], [list(r) for r in _chunks(page, n_cols)])
        for page in pages
    ]


def grid_pages(coords: Sequence[Mapping[str, Hashable]], max_side: int = MAX_SIDE) -> list[Page]:
    """Lay runs out by their varying fields, at most ``max_side`` × ``max_side`` panels per page.

    With two or more varying fields (and each run at its own point): the field with the most
    values runs along the columns, the next down the rows, and every combination of the others
    (seeds last) gets its own pages; axes longer than ``max_side`` are split across pages.
    Otherwise the runs are laid out flat, sorted by the varying field, if any.
    """
    fields = layout_fields(coords)
    points = [tuple(c.get(f) for f in fields) for c in coords]
    if len(fields) < 2 or len(set(points)) < len(points):
        ranks = [{v: i for i, v in enumerate(ordered_values(coords, f))} for f in fields]
        order = sorted(range(len(coords)), key=lambda i: [rank[p] for rank, p in zip(ranks, points[i], strict=True)])
        return _flat_pages(order, max_side)
    names = short_names(fields)
    col_field, row_field, rest = fields[0], fields[1], fields[2:]
    cols, rows = ordered_values(coords, col_field), ordered_values(coords, row_field)
    where = {point: i for i, point in enumerate(points)}
    rest_values = [ordered_values(coords, f) for f in rest]
    rest_points = sorted(
        {p[2:] for p in points}, key=lambda p: [vs.index(v) for vs, v in zip(rest_values, p, strict=True)]
    )
    pages = []
    for rest_point in rest_points:
        fixed = [f"{names[f]}={show(v)}" for f, v in zip(rest, rest_point, strict=True)]
        for row_part in _chunks(rows, max_side):
            for col_part in _chunks(cols, max_side):
                cells = [[where.get((c, r, *rest_point)) for c in col_part] for r in row_part]
                if all(i is None for row in cells for i in row):
                    continue
                spans = [_span(row_part, rows, "rows"), _span(col_part, cols, "columns")]
                pages.append(
                    Page(
                        ", ".join(fixed + [s for s in spans if s]),
                        [f"{names[row_field]}={show(v)}" for v in row_part],
                        [f"{names[col_field]}={show(v)}" for v in col_part],
                        cells,
                    )
                )
    return pages


# ---------------------------------------------------------------- sweep plots


def numeric_fields(runs: Sequence[LoadedRun]) -> list[str]:
    """Swept fields worth a plot: numeric values, at least two of them, not a replicate such as ``seed``."""
    fields = []
    for field in sweep_fields(runs):
        values = {run.sweep[field] for run in runs if field in run.sweep and is_number(run.sweep[field])}
        present = [run.sweep[field] for run in runs if field in run.sweep]
        if field not in REPLICATE_FIELDS and len(values) > 1 and all(is_number(v) for v in present):
            fields.append(field)
    return fields


def x_scale(field: str, values: Sequence[float]) -> tuple[str, dict[str, float]]:
    """The x axis for a swept field: log for strengths (or values over ≥ 2 decades), symlog when 0 is one.

    Returns a matplotlib scale name and its arguments, e.g. ``("symlog", {"linthresh": 1e-4, ...})``.
    """
    x = np.asarray(values, dtype=np.float64)
    positive = x[x > 0]
    if (x < 0).any() or positive.size == 0:
        return "linear", {}
    wide = positive.max() / positive.min() >= 100
    if not (wide or field.rsplit(".", 1)[-1] in LOG_FIELDS):
        return "linear", {}
    if (x == 0).any():
        return "symlog", {"linthresh": float(positive.min()), "linscale": 0.5}
    return "log", {}


def _spread(values: list[float]) -> tuple[float, float, float, float, float]:
    """Mean, min, max and the 95 % t interval of the mean of the finite values (NaN where undefined)."""
    agg = seed_aggregate(values)
    return agg["mean"], agg["min"], agg["max"], agg["ci_low"], agg["ci_high"]


def _final(run: LoadedRun, key: str) -> float:
    value = dig(run.metrics, "final", key)
    return float(value) if is_number(value) else math.nan


def sweep_series(runs: Sequence[LoadedRun], field: str) -> list[comparison.SweepSeries]:
    """Final train/validation data loss and accuracy against ``field``, one series per combination of
    the other varying fields (replicates such as seeds excepted: each point is their mean, min, max and
    95 % interval of the mean).

    Failed runs are left out; a diverged run's missing numbers are skipped.
    """
    done = [run for run in runs if not run.failed and field in run.sweep]
    coords = [coordinates(run) for run in done]
    others = [f for f in layout_fields(coords) if f != field and f not in REPLICATE_FIELDS]
    names = short_names(others)
    groups: dict[tuple, list[LoadedRun]] = {}
    for run, c in zip(done, coords, strict=True):
        groups.setdefault(tuple(c.get(f) for f in others), []).append(run)
    ranks = [ordered_values(coords, f) for f in others]
    series = []
    for key in sorted(groups, key=lambda k: [vs.index(v) for vs, v in zip(ranks, k, strict=True)]):
        members = groups[key]
        xs = sorted({float(run.sweep[field]) for run in members})
        at = [[run for run in members if float(run.sweep[field]) == x] for x in xs]
        stats = {m: np.array([_spread([_final(r, m) for r in point]) for point in at]) for m in SWEEP_METRICS}
        series.append(
            comparison.SweepSeries(
                label=", ".join(f"{names[f]}={show(v)}" for f, v in zip(others, key, strict=True)),
                x=np.array(xs),
                mean={m: s[:, 0] for m, s in stats.items()},
                low={m: s[:, 1] for m, s in stats.items()},
                high={m: s[:, 2] for m, s in stats.items()},
                ci_low={m: s[:, 3] for m, s in stats.items()},
                ci_high={m: s[:, 4] for m, s in stats.items()},
                runs=np.array([len(point) for point in at]),
            )
        )
    return series


def sweep_title(field: str, series: Sequence[comparison.SweepSeries], runs: Sequence[LoadedRun]) -> str:
    """Name the field, and what a band is when points average several runs."""
    per_point = sorted({int(n) for s in series for n in s.runs})
    if not per_point or per_point[-1] == 1:
        return f"Final metrics against {field}"
    over = ", ".join(f for f in REPLICATE_FIELDS if f in sweep_fields(runs)) or "runs"
    counted = _count_text(per_point)
    return (
        f"Final metrics against {field}: mean, min–max band and 95 % interval (bars) over {over} ({counted} per point)"
    )


def _count_text(counts: Sequence[int]) -> str:
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"


# ---------------------------------------------------------------- weights comparison


def _pooled(runs: Sequence[LoadedRun]) -> np.ndarray:
    """The first-layer kernels of ``runs`` as one flat array of shape (Σ kernel sizes,)."""
    return np.concatenate([np.ravel(run.kernels[0][1]) for run in runs])  # kernels alone: no grid is read


def _curve(runs: Sequence[LoadedRun], name: str) -> comparison.WeightCurve:
    values = _pooled(runs)
    finite = values[np.isfinite(values)]
    std = float(finite.std()) if finite.size else math.nan
    zero = float(np.mean(finite == 0.0)) if finite.size else math.nan
    note = f"std {std:.3f}, {zero:.0%} zero"
    return comparison.WeightCurve(name, note if len(runs) == 1 else f"{len(runs)} runs, {note}", values)


def _evenly(items: Sequence[Any], most: int) -> list[Any]:
    """At most ``most`` items, evenly spread and keeping the first and the last."""
    if len(items) <= most:
        return list(items)
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, most)).astype(int))
    return [items[i] for i in picks]


def weight_panels(runs: Sequence[LoadedRun]) -> tuple[str, list[tuple[str, list[comparison.WeightCurve]]]]:
    """The compare_weights figure's title and panels of first-layer densities.

    Few runs: one curve per run. Many: one curve per value of the first varying field and one panel
    per value of the second, pooled over the rest (seeds); curves and panels are capped (the title
    says so) so the figure stays readable.
    """
    done = [run for run in runs if not run.failed]  # (a failed run has no view; asking would not read one)
    if not done:
        return "First-layer weights: no run finished", [("", [])]  # drawn as a note
    layer = done[0].kernels[0][0]
    title = f"First-layer weights ({layer})"
    coords = [coordinates(run) for run in done]
    fields = [f for f in layout_fields(coords) if f not in REPLICATE_FIELDS]
    if len(done) <= MAX_CURVES or not fields:
        shown = done[:MAX_CURVES]
        capped = f", first {len(shown)} of {len(done)} runs" if len(shown) < len(done) else ", all runs"
        return title + capped, [("", [_curve([run], run.title) for run in shown])]
    names = short_names(fields)
    curve_field, panel_field = fields[0], (fields[1] if len(fields) > 1 else None)
    curve_values = ordered_values(coords, curve_field)
    panel_values = ordered_values(coords, panel_field) if panel_field else [None]
    shown_curves = _evenly(curve_values, MAX_CURVES)
    shown_panels = panel_values[:MAX_WEIGHT_PANELS]
    panels = []
    for pv in shown_panels:
        curves = []
        for cv in shown_curves:
            members = [
                r
                for r, c in zip(done, coords, strict=True)
                if c.get(curve_field) == cv and (panel_field is None or c.get(panel_field) == pv)
            ]
            if members:
                curves.append(_curve(members, f"{names[curve_field]}={show(cv)}"))
        panels.append((f"{names[panel_field]}={show(pv)}" if panel_field else "", curves))
    notes = [f"one curve per {names[curve_field]}"]
    if len(shown_curves) < len(curve_values):
        notes[0] += f" ({len(shown_curves)} of {len(curve_values)} values shown)"
    if panel_field:
        notes.append(f"one panel per {names[panel_field]}")
        if len(shown_panels) < len(panel_values):
            notes[-1] += f" (first {len(shown_panels)} of {len(panel_values)})"
    pooled = [names.get(f, f) for f in layout_fields(coords) if f not in (curve_field, panel_field)]
    if pooled:
        notes.append(f"pooled over {', '.join(pooled)}")
    return f"{title}: {'; '.join(notes)}", panels
