"""The comparison of saved runs on disk: summary.csv and the comparison figures, drawn and written.

:func:`comparison_figures` names every figure and draws it on demand (layouts from
:mod:`regdemo.draw.layout`, drawing by :mod:`regdemo.draw.comparison`); :func:`compare` writes them with summary.csv
through :mod:`regdemo.results.rundir`. Nothing here trains or rebuilds a model: runs are read back from their folders,
and a figure reads the runs' plot data (lazily loaded) only when it is drawn.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from regdemo.draw import canvas, comparison, layout, paths
from regdemo.errors import RunFolderError
from regdemo.results import rundir
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import summary_rows

# ---------------------------------------------------------------- the figures


def _panel(run: LoadedRun, flat: bool) -> comparison.Panel:
    if run.view is None:
        return comparison.Panel(f"{run.label}: failed", None, run.error)
    return comparison.Panel(run.view.title if flat else run.label, run.view)


def _page_title(what: str, page: layout.Page, number: int, count: int) -> str:
    title = f"{what}: {page.title}" if page.title else what
    return f"{title}   (page {number} of {count})" if count > 1 else title


def _grid_figure(
    draw: Callable[..., Figure], what: str, runs: Sequence[LoadedRun], page: layout.Page, number: int, count: int
) -> Figure:
    """One grid page: its panels' plot data is read here, when the page is drawn."""
    flat = not page.col_labels
    cells = [[None if i is None else _panel(runs[i], flat) for i in row] for row in page.cells]
    return draw(cells, page.row_labels, page.col_labels, _page_title(what, page, number, count))


def _weights_figure(runs: Sequence[LoadedRun]) -> Figure:
    title, panels = layout.weight_panels(runs)
    return comparison.weight_groups_figure(panels, title)


def _sweep_figure(runs: Sequence[LoadedRun], field: str, selection: Mapping[str, Any] | None = None) -> Figure:
    series = layout.sweep_series(runs, field)
    scale = layout.x_scale(field, np.concatenate([s.x for s in series]) if series else [0.0])
    fig = comparison.sweep_figure(field, series, scale, layout.sweep_title(field, series, runs))
    if selection and selection.get("field") == field:  # the select: section chose along this field
        paths.mark_selection(fig, selection)
    return fig


def _path_figure(runs: Sequence[LoadedRun], field: str) -> Figure:
    series = paths.path_series(runs, field)
    scale = layout.x_scale(field, np.concatenate([s.x for s in series]) if series else [0.0])
    return paths.path_figure(field, series, scale)


def draws_grids(runs: Sequence[LoadedRun], grids: bool | None = None) -> bool:
    """Whether the grid pages are drawn: when asked (``grids``), else up to ``MAX_SIDE²`` (36) runs, one page."""
    return len(runs) <= layout.MAX_SIDE**2 if grids is None else grids


def comparison_figures(
    runs: Sequence[LoadedRun], grids: bool | None = None, selection: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, Callable[[], Figure]]]:
    """Every comparison figure as ``(file name, draw)``; ``draw()`` makes the figure, so the names are
    known without drawing anything (nor reading any run's plot data).

    compare_boundaries[_k].png and compare_loss[_k].png (pages of :func:`regdemo.draw.layout.grid_pages`) when
    :func:`draws_grids` (at most 36 runs, or ``grids=True``: a page per 36 panels is much to draw and to
    look at), compare_weights.png, sweep_<field>.png for every :func:`regdemo.draw.layout.numeric_fields` field
    (``selection``, an experiment's selection.json, marked on its field's), and path_<field>.png, the
    regularization path, for every swept strength (:func:`regdemo.draw.paths.path_fields`).
    """
    if draws_grids(runs, grids):
        pages = layout.grid_pages([layout.coordinates(run) for run in runs])
        for what, stem, draw in (
            ("Decision boundaries", "compare_boundaries", comparison.boundary_grid_figure),
            ("Train/validation loss", "compare_loss", comparison.loss_grid_figure),
        ):
            for number, (page, name) in enumerate(zip(pages, rundir.page_names(stem, len(pages)), strict=True), 1):
                yield name, functools.partial(_grid_figure, draw, what, runs, page, number, len(pages))
    yield rundir.COMPARE_WEIGHTS, functools.partial(_weights_figure, runs)
    for field in layout.numeric_fields(runs):
        yield rundir.sweep_file(field), functools.partial(_sweep_figure, runs, field, selection)
    for field in paths.path_fields(runs):
        yield rundir.path_file(field), functools.partial(_path_figure, runs, field)


# ---------------------------------------------------------------- writing


def compare_share(
    run_dirs: Sequence[Path],
    out: Path,
    shares: int = 1,
    share: int = 0,
    grids: bool | None = None,
    summary: bool = True,
) -> list[Path]:
    """Write share ``share`` (of ``shares``) of what :func:`compare` writes; return its files.

    Share 0 writes summary.csv (unless not ``summary``: the runner writes its own as runs finish) and
    removes stale files; the figures are dealt out round robin, so ``shares`` processes draw them in
    parallel. Every share checks every folder before writing.
    """
    runs = rundir.load_runs(run_dirs)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    figures = list(comparison_figures(runs, grids, rundir.read_selection(out)))
    written = []
    if share == 0:
        if summary:
            written.append(rundir.write_summary(summary_rows(runs), out))
        for path in rundir.stale_comparison_files(out, [name for name, _ in figures]):
            path.unlink()
    for name, draw in figures[share::shares]:
        written.append(rundir.write_figure(canvas.png_bytes(draw()), out, name))
    return written


def compare(run_dirs: Sequence[Path], out: Path, grids: bool | None = None) -> list[Path]:
    """Write summary.csv and every comparison figure of these runs into ``out``; return the files.

    Every folder is checked first (:class:`RunFolderError`: nothing is written); each file is written
    atomically; comparison files left from an earlier comparison (more pages, grids not drawn now) are
    removed. ``grids``: see :func:`comparison_figures`.
    """
    return compare_share(run_dirs, out, grids=grids)
