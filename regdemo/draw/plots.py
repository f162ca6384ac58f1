"""Numbers → figures. Every function draws what ``metrics`` computed; each takes an optional ``ax``.

Drawing only: no function here trains, predicts or computes a statistic (seaborn's density estimate
is part of drawing a density). Figures are written with the Agg backend and no timestamp.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from regdemo.train.datasets import Split
from regdemo.train.metrics import Grid, RunView

TRAIN_STYLE = {"marker": "o", "edgecolor": "k", "linewidths": 0.6, "s": 28}
VAL_STYLE = {"marker": "^", "edgecolor": "k", "linewidths": 0.9, "s": 46}
CLASS_COLORS = ("#2166ac", "#b2182b")  # class 0 blue, class 1 red, as the probability colormap
PROB_CMAP = "RdBu_r"


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` (any shape) as a flat array: a diverged run has NaN/inf weights."""
    flat = np.ravel(values)
    return flat[np.isfinite(flat)]


def _diverged_note(ax: Axes) -> None:
    ax.text(0.5, 0.5, "diverged: no finite values", transform=ax.transAxes, ha="center", va="center", color="C3")


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4.5)) -> Axes:
    return ax if ax is not None else plt.figure(figsize=figsize).add_subplot()


def _boundary_legend() -> list[Line2D]:
    """Proxy handles: marker shape tells train from validation, colour tells the class."""
    gray = {"ls": "", "mfc": "lightgray", "mec": "k"}
    return [
        Line2D([], [], marker="o", label="train", **gray),
        Line2D([], [], marker="^", label="validation", **gray),
        Line2D([], [], marker="s", ls="", color=CLASS_COLORS[0], label="class 0"),
        Line2D([], [], marker="s", ls="", color=CLASS_COLORS[1], label="class 1"),
        Line2D([], [], color="k", lw=1.5, label="p = 0.5"),
    ]


def plot_points(
    data: Split, ax: Axes | None = None, size: float = 1.0, edge: float | None = None
) -> list[PathCollection]:
    """The train (●) and validation (▲) points, coloured by class: their two scatters. ``size`` scales the
    markers' area, ``edge`` (points) replaces their edge widths (the film's small frames)."""
    ax = _axes(ax)
    scatters = []
    for x, y, style in ((data.x_train, data.y_train, TRAIN_STYLE), (data.x_val, data.y_val, VAL_STYLE)):
        drawn = {**style, "s": style["s"] * size} | ({} if edge is None else {"linewidths": edge})
        scatters.append(ax.scatter(x[:, 0], x[:, 1], c=np.where(y > 0.5, CLASS_COLORS[1], CLASS_COLORS[0]), **drawn))
    return scatters


def plot_boundary(grid: Grid, data: Split, title: str = "", ax: Axes | None = None, legend: bool = True) -> Axes:
    """P(class 1) as a filled contour, the p = 0.5 line, train (●) and validation (▲) points."""
    ax = _axes(ax)
    if not np.isfinite(grid.prob).any():
        _diverged_note(ax)
        ax.set_title(title)
        return ax
    # Imported here, as seaborn below: together ~1 s of start-up that a report embedding figures already
    # drawn (regdemo run's, an index page's) never needs.
    from sklearn.inspection import DecisionBoundaryDisplay

    display = DecisionBoundaryDisplay(xx0=grid.xx, xx1=grid.yy, n_classes=2, response=grid.prob)
    display.plot(
        ax=ax, plot_method="contourf", cmap=PROB_CMAP, alpha=0.55, levels=np.linspace(0, 1, 11), vmin=0, vmax=1
    )
    ax.contour(grid.xx, grid.yy, grid.prob, levels=[0.5], colors="k", linewidths=1.5)
    plot_points(data, ax)
    ax.set(xlim=(grid.xx.min(), grid.xx.max()), ylim=(grid.yy.min(), grid.yy.max()), xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title)
    if legend:
        ax.legend(handles=_boundary_legend(), loc="upper right", fontsize="small", framealpha=0.8)
    _slice_note(data, ax)
    return ax


def _slice_note(data: Split, ax: Axes) -> None:
    """With noise inputs (``dataset.noise_features``) the picture is one slice of the input space: say which."""
    if data.n_inputs > 2:
        note = f"slice where the {data.n_inputs - 2} noise inputs are 0"
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize="small", va="bottom", ha="left")


def plot_loss(history: dict[str, np.ndarray], title: str = "", ax: Axes | None = None) -> Axes:
    """Train and validation loss per epoch: data loss solid, total loss (with penalty) dashed."""
    ax = _axes(ax)
    curve = {name: np.where(np.isfinite(v), v, np.nan) for name, v in history.items()}  # gaps, not crashes
    epochs = np.arange(1, len(curve["loss"]) + 1)
    ax.plot(epochs, curve["data_loss"], color="C0", label="train data loss")
    ax.plot(epochs, curve["val_data_loss"], color="C1", label="validation data loss")
    if np.nanmax(curve["penalty"], initial=0.0) > 0:
        ax.plot(epochs, curve["loss"], color="C0", ls="--", lw=1, label="train loss + penalty")
        ax.plot(epochs, curve["val_loss"], color="C1", ls="--", lw=1, label="validation loss + penalty")
    ax.set(xlabel="epoch", ylabel="binary cross-entropy", title=title)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return ax


def _stats_text(stats: dict) -> str:
    return (
        f"range [{stats['min']:.2f}, {stats['max']:.2f}]\nstd {stats['std']:.3f}\n"
        f"exactly 0: {stats['frac_zero']:.1%}\n|w| < {stats['near_zero_tol']:g}: {stats['frac_near_zero']:.1%}"
    )


def plot_weight_density(values: np.ndarray, label: str, stats: dict | None = None, ax: Axes | None = None) -> Axes:
    """Density (seaborn KDE) of kernel values, any shape; ``stats`` (from metrics) written on the axes."""
    ax = _axes(ax)
    finite = _finite(values)
    if finite.size < 2:
        _diverged_note(ax)
    else:
        import seaborn as sns  # see plot_boundary: imported where drawn

        sns.kdeplot(x=finite, ax=ax, label=label, fill=True, alpha=0.25, warn_singular=False)
    if stats is not None:
        ax.text(0.02, 0.97, _stats_text(stats), transform=ax.transAxes, va="top", fontsize="small", family="monospace")
    ax.set(xlabel="weight value", ylabel="density")
    return ax


def plot_weight_box(values: Sequence[np.ndarray], labels: Sequence[str], ax: Axes | None = None) -> Axes:
    """Horizontal box plots of one or more kernels, any shapes, sharing the density's x axis."""
    ax = _axes(ax)
    ax.boxplot(
        [_finite(v) for v in values],
        orientation="horizontal",
        tick_labels=labels,
        widths=0.6,
        flierprops={"markersize": 2},
        medianprops={"color": "k"},
    )
    ax.invert_yaxis()  # first run on top, as in the legend
    ax.set_xlabel("weight value")
    return ax


def weights_figure(view: RunView, all_layers: bool = False) -> Figure:
    """Density above a box plot for the first layer's kernel (or each Dense layer's, side by side)."""
    chosen = list(zip(view.kernels, view.layer_stats, strict=True))[: None if all_layers else 1]
    fig, axes = plt.subplots(
        2,
        len(chosen),
        figsize=(6 * len(chosen), 5.5),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [3, 1]},
    )
    for col, ((name, kernel), stats) in enumerate(chosen):
        plot_weight_density(kernel, name, stats, ax=axes[0, col])
        axes[0, col].set_title(f"{name} kernel {tuple(kernel.shape)}")
        plot_weight_box([kernel], [name], ax=axes[1, col])
    fig.suptitle(f"Weights: {view.title}")
    fig.tight_layout()
    return fig


def boundary_figure(view: RunView) -> Figure:
    fig = plot_boundary(view.grid, view.data, f"Decision boundary: {view.title}").figure
    fig.tight_layout()
    return fig


def loss_figure(view: RunView) -> Figure:
    fig = plot_loss(view.history, f"Loss: {view.title}").figure
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG bytes (no timestamp in them, so a redraw is byte-identical) and free it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


# ---------------------------------------------------------------- comparison of many runs


@dataclass(frozen=True)
class Panel:
    """One cell of a comparison grid: a run's view, or (a failed run) a note drawn in its place."""

    title: str
    view: RunView | None = None
    note: str = ""


def plot_note(text: str, title: str = "", ax: Axes | None = None) -> Axes:
    """A panel holding only text (e.g. a failed run's error), wrapped to fit."""
    ax = _axes(ax)
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
    fig, axes = plt.subplots(n_rows, n_cols, figsize=size, squeeze=False, sharey=sharey)
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
    tops = [_finite(np.r_[v.history["data_loss"], v.history["val_data_loss"]]) for v in views]
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
    fig, axes = plt.subplots(
        2,
        len(panels),
        figsize=(max(8.0, 6.5 * len(panels)), 6.8),
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
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
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
