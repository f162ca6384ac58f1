"""Saved runs → summary.csv, comparison figures and report.html, from the run folders alone.

Nothing here trains or rebuilds a model: runs are read back, and files written, by
:mod:`regdemo.rundir`. A failed run is a run too: it gets a summary row and a note in place of its plots.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import regdemo
from regdemo import plots, rundir
from regdemo.config import RunConfig
from regdemo.errors import RunFolderError
from regdemo.history import COLUMNS
from regdemo.metrics import TEST_KEYS
from regdemo.rundir import LoadedRun

# Fields that replicate a run rather than change it: never a plotted axis; averaged over in sweep plots.
REPLICATE_FIELDS = ("seed", "dataset.random_state")
# Strength-like fields: a log x axis whenever they have positive values (symlog when 0 is swept too).
LOG_FIELDS = ("lambda", "l1", "l2", "learning_rate")
MAX_SIDE = 6  # at most MAX_SIDE × MAX_SIDE panels per figure; more go to further pages
MAX_CURVES = 8  # densities overlaid in one weights panel
MAX_WEIGHT_PANELS = 4
SWEEP_METRICS = ("data_loss", "val_data_loss", "accuracy", "val_accuracy")  # what a sweep plot shows
FIRST_LAYER_KEYS = ("min", "max", "std", "frac_zero", "frac_near_zero")
BOUNDARY_KEYS = ("contour_length", "regions", "class1_area_fraction")  # metrics.json's boundary block
WINDOW_KEYS = ("data_loss", "val_data_loss", "generalization_gap")  # of metrics.json's window block
SUMMARY_SETTINGS: dict[str, Callable[[RunConfig], object]] = {
    "dataset": lambda c: c.dataset.kind,
    "n_samples": lambda c: c.dataset.n_samples,
    "noise": lambda c: c.dataset.noise,
    "hidden_units": lambda c: "-".join(map(str, c.model.hidden_units)),
    "activation": lambda c: c.model.activation,
    "regularizer": lambda c: c.model.regularizer.kind,
    "l1": lambda c: c.model.regularizer.strengths()[0],
    "l2": lambda c: c.model.regularizer.strengths()[1],
    "proximal": lambda c: c.model.regularizer.proximal,
    "dropout": lambda c: c.model.dropout,
    "optimizer": lambda c: c.training.optimizer,
    "learning_rate": lambda c: c.training.learning_rate,
    "epochs": lambda c: c.training.epochs,
    "batch_size": lambda c: c.training.batch_size,
    "engine": lambda c: c.training.engine,
    "early_stopping_patience": lambda c: c.training.early_stopping.patience if c.training.early_stopping else None,
    "seed": lambda c: c.seed,
}
# The summary table of report.html: these columns (those present), swept fields after "status".
REPORT_COLUMNS = (
    "run",
    "variant",
    "status",
    "regularizer",
    "l1",
    "l2",
    "epochs_run",
    "data_loss",
    "val_data_loss",
    "accuracy",
    "val_accuracy",
    "generalization_gap",
    "first_layer_std",
    "first_layer_frac_near_zero",
    "error",
)


# ---------------------------------------------------------------- the summary (pure)


def _dig(data: Any, *keys: str | int) -> Any:
    """``data[k0][k1]…`` or None where any level is missing."""
    for key in keys:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _cell(value: Any) -> Any:
    """A swept value as one CSV cell: scalars as they are, lists and mappings as compact JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def sweep_fields(runs: Sequence[LoadedRun]) -> list[str]:
    """Every swept field path of these runs, in first-seen order."""
    return list(dict.fromkeys(field for run in runs for field in run.sweep))


def result_columns(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The final-numbers part of a summary row (all None for a failed run)."""
    first = _dig(metrics, "weights", "layers", 0) or {}
    return {
        "epochs_run": metrics.get("epochs_run"),
        **{key: _dig(metrics, "final", key) for key in COLUMNS},
        "generalization_gap": metrics.get("generalization_gap"),
        **{f"window_{key}": _dig(metrics, "window", key) for key in WINDOW_KEYS},
        **{key: _dig(metrics, "final", key) for key in TEST_KEYS},
        "test_generalization_gap": metrics.get("test_generalization_gap"),
        **{f"first_layer_{key}": first.get(key) for key in FIRST_LAYER_KEYS},
        "kernels_l1": _dig(metrics, "weights", "kernels", "l1"),
        "kernels_l2": _dig(metrics, "weights", "kernels", "l2"),
        **{f"boundary_{key}": _dig(metrics, "boundary", key) for key in BOUNDARY_KEYS},
        "train_seconds": _dig(metrics, "timing", "train_seconds"),
    }


def summary_rows(runs: Sequence[LoadedRun]) -> list[dict[str, Any]]:
    """One summary.csv row per run, all with the same columns.

    ``run`` (its label), ``experiment``, ``variant``, ``status``, one column per swept field (its
    dotted path; empty where a run did not sweep it), the settings, the final metrics, the first
    layer's weight stats, ``kernels_l1``/``kernels_l2``, ``train_seconds`` and ``error`` (a failed
    run's message; its metric columns are empty). Non-finite numbers are None (empty cells).
    """
    swept = sweep_fields(runs)
    rows = []
    for run in runs:
        row: dict[str, Any] = {"run": run.label, "experiment": run.config.experiment, "variant": run.variant}
        row["status"] = run.status
        row |= {field: _cell(run.sweep.get(field)) for field in swept}
        row |= {key: get(run.config) for key, get in SUMMARY_SETTINGS.items()}
        row |= result_columns(run.metrics)
        row["error"] = run.error
        rows.append(row)
    return rows


# ---------------------------------------------------------------- layouts (pure)


def _key(value: Any) -> Hashable:
    """A swept value as a dict key: lists become tuples."""
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def coordinates(run: LoadedRun) -> dict[str, Hashable]:
    """Where a run sits among others: its experiment folder, variant and swept values."""
    swept = {field: _key(value) for field, value in run.sweep.items()}
    return {"experiment": run.path.parent.name, "variant": run.variant, **swept}


def ordered_values(coords: Sequence[Mapping[str, Hashable]], field: str) -> list[Hashable]:
    """The distinct values of ``field``: numbers ascending, then the others in first-seen order."""
    values = list(dict.fromkeys(c.get(field) for c in coords))
    return sorted(v for v in values if _is_number(v)) + [v for v in values if not _is_number(v)]


def layout_fields(coords: Sequence[Mapping[str, Hashable]]) -> list[str]:
    """The fields that vary across these runs: most distinct values first, replicates (seeds) last."""
    fields = list(dict.fromkeys(field for c in coords for field in c))
    counts = {field: len(ordered_values(coords, field)) for field in fields}
    varying = [field for field in fields if counts[field] > 1]
    main = sorted((f for f in varying if f not in REPLICATE_FIELDS), key=lambda f: -counts[f])
    return main + [f for f in varying if f in REPLICATE_FIELDS]


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


# ---------------------------------------------------------------- sweep plots (pure)


def numeric_fields(runs: Sequence[LoadedRun]) -> list[str]:
    """Swept fields worth a plot: numeric values, at least two of them, not a replicate such as ``seed``."""
    fields = []
    for field in sweep_fields(runs):
        values = {run.sweep[field] for run in runs if field in run.sweep and _is_number(run.sweep[field])}
        present = [run.sweep[field] for run in runs if field in run.sweep]
        if field not in REPLICATE_FIELDS and len(values) > 1 and all(_is_number(v) for v in present):
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


def _spread(values: list[float]) -> tuple[float, float, float]:
    """Mean, min and max of the finite values (NaN when there is none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, math.nan
    return float(np.mean(finite)), min(finite), max(finite)


def _final(run: LoadedRun, key: str) -> float:
    value = _dig(run.metrics, "final", key)
    return float(value) if _is_number(value) else math.nan


def sweep_series(runs: Sequence[LoadedRun], field: str) -> list[plots.SweepSeries]:
    """Final train/validation data loss and accuracy against ``field``, one series per combination of
    the other varying fields (replicates such as seeds excepted: each point is their mean, min, max).

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
            plots.SweepSeries(
                label=", ".join(f"{names[f]}={show(v)}" for f, v in zip(others, key, strict=True)),
                x=np.array(xs),
                mean={m: s[:, 0] for m, s in stats.items()},
                low={m: s[:, 1] for m, s in stats.items()},
                high={m: s[:, 2] for m, s in stats.items()},
                runs=np.array([len(point) for point in at]),
            )
        )
    return series


def _sweep_title(field: str, series: Sequence[plots.SweepSeries], runs: Sequence[LoadedRun]) -> str:
    """Name the field, and what a band is when points average several runs."""
    per_point = sorted({int(n) for s in series for n in s.runs})
    if not per_point or per_point[-1] == 1:
        return f"Final metrics against {field}"
    over = ", ".join(f for f in REPLICATE_FIELDS if f in sweep_fields(runs)) or "runs"
    return f"Final metrics against {field}: mean and min–max band over {over} ({_count_text(per_point)} per point)"


def _count_text(counts: Sequence[int]) -> str:
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"


# ---------------------------------------------------------------- weights comparison (pure)


def _pooled(runs: Sequence[LoadedRun]) -> np.ndarray:
    """The first-layer kernels of ``runs`` as one flat array of shape (Σ kernel sizes,)."""
    return np.concatenate([np.ravel(run.view.kernels[0][1]) for run in runs])


def _curve(runs: Sequence[LoadedRun], name: str) -> plots.WeightCurve:
    values = _pooled(runs)
    finite = values[np.isfinite(values)]
    std = float(finite.std()) if finite.size else math.nan
    zero = float(np.mean(finite == 0.0)) if finite.size else math.nan
    note = f"std {std:.3f}, {zero:.0%} zero"
    return plots.WeightCurve(name, note if len(runs) == 1 else f"{len(runs)} runs, {note}", values)


def _evenly(items: Sequence[Any], most: int) -> list[Any]:
    """At most ``most`` items, evenly spread and keeping the first and the last."""
    if len(items) <= most:
        return list(items)
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, most)).astype(int))
    return [items[i] for i in picks]


def weight_panels(runs: Sequence[LoadedRun]) -> tuple[str, list[tuple[str, list[plots.WeightCurve]]]]:
    """The compare_weights figure's title and panels of first-layer densities.

    Few runs: one curve per run. Many: one curve per value of the first varying field and one panel
    per value of the second, pooled over the rest (seeds); curves and panels are capped (the title
    says so) so the figure stays readable.
    """
    done = [run for run in runs if run.view is not None]
    if not done:
        return "First-layer weights: no run finished", [("", [])]  # drawn as a note
    layer = done[0].view.kernels[0][0]
    title = f"First-layer weights ({layer})"
    coords = [coordinates(run) for run in done]
    fields = [f for f in layout_fields(coords) if f not in REPLICATE_FIELDS]
    if len(done) <= MAX_CURVES or not fields:
        shown = done[:MAX_CURVES]
        capped = f", first {len(shown)} of {len(done)} runs" if len(shown) < len(done) else ", all runs"
        return title + capped, [("", [_curve([run], run.view.title) for run in shown])]
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


# ---------------------------------------------------------------- comparison figures


def _panel(run: LoadedRun, flat: bool) -> plots.Panel:
    if run.view is None:
        return plots.Panel(f"{run.label}: failed", None, run.error)
    return plots.Panel(run.view.title if flat else run.label, run.view)


def _page_title(what: str, page: Page, number: int, count: int) -> str:
    title = f"{what}: {page.title}" if page.title else what
    return f"{title}   (page {number} of {count})" if count > 1 else title


def comparison_figures(runs: Sequence[LoadedRun]) -> Iterator[tuple[str, Callable[[], Figure]]]:
    """Every comparison figure as ``(file name, draw)``; ``draw()`` makes the figure, so the names are
    known without drawing anything.

    compare_boundaries[_k].png and compare_loss[_k].png (pages of :func:`grid_pages`),
    compare_weights.png, and sweep_<field>.png for every :func:`numeric_fields` field.
    """
    pages = grid_pages([coordinates(run) for run in runs])
    for what, stem, draw in (
        ("Decision boundaries", "compare_boundaries", plots.boundary_grid_figure),
        ("Train/validation loss", "compare_loss", plots.loss_grid_figure),
    ):
        for number, (page, name) in enumerate(zip(pages, rundir.page_names(stem, len(pages)), strict=True), 1):
            flat = not page.col_labels
            cells = [[None if i is None else _panel(runs[i], flat) for i in row] for row in page.cells]
            title = _page_title(what, page, number, len(pages))
            yield name, functools.partial(draw, cells, page.row_labels, page.col_labels, title)
    title, panels = weight_panels(runs)
    yield rundir.COMPARE_WEIGHTS, functools.partial(plots.weight_groups_figure, panels, title)
    for field in numeric_fields(runs):
        series = sweep_series(runs, field)
        scale = x_scale(field, np.concatenate([s.x for s in series]) if series else [0.0])
        title = _sweep_title(field, series, runs)
        yield rundir.sweep_file(field), functools.partial(plots.sweep_figure, field, series, scale, title)


# ---------------------------------------------------------------- writing


def compare_share(run_dirs: Sequence[Path], out: Path, shares: int = 1, share: int = 0) -> list[Path]:
    """Write share ``share`` (of ``shares``) of what :func:`compare` writes; return its files.

    Share 0 writes summary.csv and removes stale files; the figures are dealt out round robin, so
    ``shares`` processes draw them in parallel. Every share checks every folder before writing.
    """
    runs = rundir.load_runs(run_dirs)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    figures = list(comparison_figures(runs))
    written = []
    if share == 0:
        written.append(rundir.write_summary(summary_rows(runs), out))
        for path in rundir.stale_comparison_files(out, [name for name, _ in figures]):
            path.unlink()
    for name, draw in figures[share::shares]:
        written.append(rundir.write_figure(plots.png_bytes(draw()), out, name))
    return written


def compare(run_dirs: Sequence[Path], out: Path) -> list[Path]:
    """Write summary.csv and every comparison figure of these runs into ``out``; return the files.

    Every folder is checked first (:class:`RunFolderError`: nothing is written); each file is written
    atomically; comparison files left from an earlier comparison with more pages are removed.
    """
    return compare_share(run_dirs, out)


# ---------------------------------------------------------------- report.html


@dataclass(frozen=True)
class RunSection:
    """One run's part of the report: its plots as ``[(file name, PNG bytes)]`` or its error."""

    label: str
    status: str
    error: str
    config_text: str
    images: list[tuple[str, bytes]]


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;max-width:1500px;margin:0 auto;
padding:1.2em 2em}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
.meta{color:#59636e}nav a{margin-right:1.2em}
.scroll{overflow-x:auto;max-height:70vh;overflow-y:auto;border:1px solid #d0d7de}
table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{padding:3px 9px;border-bottom:1px solid #eaeef2;text-align:left}
th{position:sticky;top:0;background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
.completed{color:#1a7f37}.diverged{color:#9a6700;font-weight:600}.failed{color:#cf222e;font-weight:600}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eaeef2}
figcaption{color:#59636e;font-size:12px}
section.run{border-top:1px solid #d0d7de;margin-top:1.5em}
.plots{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}.plots img{width:100%}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;font-size:12px}
pre.config{column-width:18em;column-rule:1px solid #eaeef2}
pre.error{background:#ffebe9;color:#82071e;white-space:pre-wrap}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    """An <img> whose source is the PNG itself (a base64 data URI)."""
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{_e(alt)}">'


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The summary as an HTML table, each run's name linking to its section."""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            text = "" if value is None else _number(value)
            if column == "run":
                cells.append(f'<td><a href="#run-{_e(value)}">{_e(text)}</a></td>')
            elif column == "status":
                cells.append(f'<td class="{_e(value)}">{_e(text)}</td>')
            else:
                cells.append(f"<td{' class=num' if _is_number(value) else ''}>{_e(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def report_columns(rows: Sequence[Mapping[str, Any]], swept: Sequence[str]) -> list[str]:
    """The report table's columns: REPORT_COLUMNS with the swept fields after ``status``; ``variant``
    only when it varies and says more than the run's name, ``error`` only when a run failed."""
    same_variant = len({r["variant"] for r in rows}) == 1 or all(r["variant"] == r["run"] for r in rows)
    columns = [c for c in REPORT_COLUMNS if not (c == "variant" and same_variant)]
    columns = [c for c in columns if not (c == "error" and not any(r["error"] for r in rows))]
    at = columns.index("status") + 1
    return columns[:at] + [f for f in swept if f not in columns] + columns[at:]


def _run_section(section: RunSection, open_config: bool) -> str:
    plots_html = (
        f'<div class="plots">{"".join(_img(png, f"{section.label}: {name}") for name, png in section.images)}</div>'
        if section.images
        else ""
    )
    error = f'<pre class="error">{_e(section.error)}</pre>' if section.error else ""
    return (
        f'<section class="run" id="run-{_e(section.label)}">'
        f'<h3>{_e(section.label)} <span class="{_e(section.status)}">{_e(section.status)}</span></h3>'
        f"{error}{plots_html}"
        f"<details{' open' if open_config else ''}><summary>resolved config</summary>"
        f'<pre class="config">{_e(section.config_text)}</pre></details></section>'
    )


def render_report(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    figures: Sequence[tuple[str, bytes]],
    sections: Sequence[RunSection],
) -> str:
    """The whole report as one self-contained HTML page (inline CSS, images as data URIs, no script)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "diverged", "failed")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    figures_html = "".join(
        f"<figure>{_img(png, file)}<figcaption>{_e(file)}</figcaption></figure>" for file, png in figures
    )
    runs_html = "".join(_run_section(s, open_config=len(sections) <= 12) for s in sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>regdemo report: {_e(name)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<h1>regdemo report: {_e(name)}</h1>"
        f'<p class="meta">{len(rows)} runs ({_e(tally)}) · regdemo {_e(regdemo.__version__)} · '
        "every number below is also in summary.csv and each run's metrics.json</p>"
        '<nav><a href="#summary-section">Summary</a><a href="#comparison">Comparison</a><a href="#runs">Runs</a></nav>'
        f'<h2 id="summary-section">Summary</h2><div class="scroll">{_table(rows, columns)}</div>'
        f'<h2 id="comparison">Comparison</h2>{figures_html}'
        f'<h2 id="runs">Runs</h2>{runs_html}'
        "</body></html>\n"
    )


def run_section(run: LoadedRun) -> RunSection:
    """Read one run's plots and config text for the report (a failed run has only its error)."""
    images = [] if run.failed else rundir.read_plots(run.path)
    return RunSection(run.label, run.status, run.error, rundir.read_text(run.path, rundir.CONFIG), images)


def write_report(experiment_dir: Path) -> Path:
    """Write ``experiment_dir/report.html`` (atomically) from the experiment's run folders; return it."""
    run_dirs = rundir.find_runs(experiment_dir)
    if not run_dirs:
        raise RunFolderError(f"{experiment_dir}: not a regdemo experiment folder (no run folders with metrics.json)")
    runs = rundir.load_runs(run_dirs)
    rows = summary_rows(runs)
    figures = [(name, plots.png_bytes(draw())) for name, draw in comparison_figures(runs)]
    name = runs[0].config.experiment if len({r.config.experiment for r in runs}) == 1 else experiment_dir.name
    page = render_report(name, rows, report_columns(rows, sweep_fields(runs)), figures, [run_section(r) for r in runs])
    return rundir.write_report(page, experiment_dir)
