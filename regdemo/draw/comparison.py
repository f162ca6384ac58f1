"""Comparison figures of many runs: panel grids (boundaries, losses), weight groups and sweep lines.

Drawing only, as :mod:`regdemo.draw.plots` (whose single plots each panel reuses); what goes in which panel is
:mod:`regdemo.draw.layout`'s, which figure is drawn :mod:`regdemo.draw.figures`'.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from regdemo.draw import canvas
from regdemo.draw.plots import axes_for, finite_values, plot_boundary, plot_loss, plot_weight_box, plot_weight_density
from regdemo.train.metrics import RunView


@dataclass(frozen=True)
class Panel:
    """One cell of a comparison grid: a run's view, or (a failed run) a note drawn in its place."""

    title: str
    view: RunView | None = None
    note: str = ""


def plot_note(text: str, title: str = "", ax: Axes | None = None) -> Axes:
    """A panel holding only text (e.g. a failed run's error), wrapped to fit."""
    ax = axes_for(ax)
    lines = textwrap.wrap(text, 38)
    shown = "\n".join(lines[:8] + (["…"] if len(lines) > 8 else []))
    ax.text(0.5, 0.5, shown, transform=ax.transAxes, ha="center", va="center", color="C3", fontsize="small")
    # tick_params, not set_yticks([]): the latter would clear the ticks of every axes sharing y
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    ax.set_title(title)
    return ax


DrawPanel = Callable[[Panel, Axes, bool], None]


def _panel_grid(
    cells: Sequence[Sequence[Panel | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    draw: DrawPanel,
    sharey: bool = False,
) -> Figure:
    """Panels in rows × columns (``cells[row][col]``, None = empty), row and column labels outside."""
    n_rows, n_cols = len(cells), max(len(row) for row in cells)
    size = (3.7 * n_cols + (0.5 if row_labels else 0), 3.4 * n_rows + (0.5 if col_labels else 0) + 0.5)
    fig = canvas.new_figure(size)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=sharey)
    first = True
    for r, row in enumerate(cells):
        for c in range(n_cols):
            panel, ax = (row[c] if c < len(row) else None), axes[r, c]
            if panel is None:
                ax.set_axis_off()
            elif panel.view is None:
                plot_note(panel.note, panel.title, ax)
            else:
                draw(panel, ax, first)
                first = False
            ax.title.set_fontsize(9)
    for c, label in enumerate(col_labels):
        axes[0, c].annotate(label, (0.5, 1), (0, 22), "axes fraction", "offset points", ha="center", weight="bold")
    for r, label in enumerate(row_labels):
        axes[r, 0].annotate(
            label, (0, 0.5), (-52, 0), "axes fraction", "offset points", ha="right", va="center", weight="bold"
        )
    fig.suptitle(title, fontsize="x-large")
    fig.tight_layout()
    return fig


def boundary_grid_figure(
    cells: Sequence[Sequence[Panel | None]], row_labels: Sequence[str], col_labels: Sequence[str], title: str
) -> Figure:
    """Decision boundaries in a grid of panels (``cells[row][col]``); the legend on the first one only."""

    def draw(panel: Panel, ax: Axes, first: bool) -> None:
        plot_boundary(panel.view.grid, panel.view.data, panel.title, ax=ax, legend=first)

    return _panel_grid(cells, row_labels, col_labels, title, draw)


def loss_grid_figure(
    cells: Sequence[Sequence[Panel | None]], row_labels: Sequence[str], col_labels: Sequence[str], title: str
) -> Figure:
    """Train/validation curves in a grid of panels sharing the loss axis; the legend on the first one only."""

    def draw(panel: Panel, ax: Axes, first: bool) -> None:
        plot_loss(panel.view.history, panel.title, ax=ax)
        if not first:
            ax.get_legend().remove()

    fig = _panel_grid(cells, row_labels, col_labels, title, draw, sharey=True)
    views = [p.view for row in cells for p in row if p is not None and p.view is not None]
    tops = [finite_values(np.r_[v.history["data_loss"], v.history["val_data_loss"]]) for v in views]
    if len(tops := [t.max() for t in tops if t.size]) > 0:
        # one scale for all panels, from the data losses: a diverging run's blow-up does not flatten the rest
        top = min(max(tops), 2 * float(np.median(tops)))
        fig.axes[0].set_ylim(0, 1.05 * top)
    return fig


@dataclass(frozen=True)
class WeightCurve:
    """One density of a weights comparison: ``values`` (any shape) pooled from one or more runs' kernels."""

    name: str
    note: str
    values: np.ndarray


def _clip_spike(ax: Axes, ratio: float = 5.0) -> str:
    """If one density peaks over ``ratio`` × the next highest (L1's spike at 0), cut the y axis so the
    others stay readable; return a note saying so ('' when nothing was cut)."""
    peaks = sorted(max((p.vertices[:, 1].max() for p in c.get_paths()), default=0.0) for c in ax.collections)
    if len(peaks) < 2 or peaks[-2] <= 0 or peaks[-1] <= ratio * peaks[-2]:
        return ""
    ax.set_ylim(0, 2.5 * peaks[-2])
    return f"highest peak cut off (density {peaks[-1]:.3g})"


def weight_groups_figure(panels: Sequence[tuple[str, Sequence[WeightCurve]]], title: str) -> Figure:
    """Per panel: the curves' densities overlaid, their box plots below (the lecture's figure, in groups)."""
    fig = canvas.new_figure((max(8.0, 6.5 * len(panels)), 6.8))
    axes = fig.subplots(
        2,
        len(panels),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [3, 0.4 + 0.25 * max(max(len(c) for _, c in panels), 1)]},
    )
    for col, (panel_title, curves) in enumerate(panels):
        if not curves:  # every run of the panel failed
            plot_note("no finished run", panel_title, axes[0, col])
            axes[1, col].set_axis_off()
            continue
        for curve in curves:
            plot_weight_density(curve.values, f"{curve.name} ({curve.note})", ax=axes[0, col])
        cut = _clip_spike(axes[0, col])
        axes[0, col].legend(fontsize="small")
        axes[0, col].set_title("\n".join(t for t in (panel_title, cut) if t))
        plot_weight_box([c.values for c in curves], [c.name for c in curves], ax=axes[1, col])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class SweepSeries:
    """One line of a sweep plot: ``x`` of shape (k,); ``mean``/``low``/``high``/``ci_low``/``ci_high`` map a
    metric to shape (k,).

    ``runs`` (shape (k,)) counts the runs behind each point; ``low``–``high`` is their spread and
    ``ci_low``–``ci_high`` the 95 % interval of their mean (NaN for one run).
    """

    label: str
    x: np.ndarray
    mean: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    ci_low: dict[str, np.ndarray]
    ci_high: dict[str, np.ndarray]
    runs: np.ndarray


def sweep_figure(
    field: str, series: Sequence[SweepSeries], scale: tuple[str, dict], title: str, xlabel: str = ""
) -> Figure:
    """Final data loss and accuracy (train solid ●, validation dashed ▲) against a swept field.

    One colour per series; where a point has more than one run, a band shows the low–high spread and
    bars the 95 % interval of the mean.
    ``scale`` is a matplotlib x scale and its arguments, e.g. ``("symlog", {"linthresh": 1e-4})``.
    """
    fig = canvas.new_figure((12, 4.6))
    axes = fig.subplots(1, 2)
    panels = (("data loss (cross-entropy)", "data_loss", "val_data_loss"), ("accuracy", "accuracy", "val_accuracy"))
    ticks = np.unique(np.concatenate([s.x for s in series]))
    for ax, (ylabel, train, val) in zip(axes, panels, strict=True):
        for i, s in enumerate(series):
            color = f"C{i % 10}"
            for key, style in ((train, {"ls": "-", "marker": "o"}), (val, {"ls": "--", "marker": "^"})):
                ax.plot(s.x, s.mean[key], color=color, **style)
                if (s.runs > 1).any():
                    ax.fill_between(s.x, s.low[key], s.high[key], color=color, alpha=0.12, lw=0)
                    interval = np.abs(np.stack([s.mean[key] - s.ci_low[key], s.ci_high[key] - s.mean[key]]))
                    ax.errorbar(s.x, s.mean[key], yerr=interval, fmt="none", ecolor=color, alpha=0.6, capsize=3)
        ax.set_xscale(scale[0], **scale[1])
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel=xlabel or field, ylabel=ylabel)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=f"C{i % 10}", label=s.label) for i, s in enumerate(series) if s.label]
    handles += [
        Line2D([], [], color="k", ls="-", marker="o", label="train"),
        Line2D([], [], color="k", ls="--", marker="^", label="validation"),
    ]
    axes[0].legend(handles=handles, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
