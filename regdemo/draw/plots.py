"""Numbers → figures. Every function draws what ``metrics`` computed; each takes an optional ``ax``.

Drawing only: no function here trains, predicts or computes a statistic (the density estimate behind a
density curve is part of drawing it, as in seaborn's ``kdeplot``). A run's own figures are
:mod:`regdemo.draw.run_figures`; pixels and PNG bytes, :mod:`regdemo.draw.canvas`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import contourpy
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from regdemo.draw import canvas
from regdemo.train.datasets import Split
from regdemo.train.metrics import Grid, RunView

TRAIN_STYLE = {"marker": "o", "edgecolor": "k", "linewidths": 0.6, "s": 28}
VAL_STYLE = {"marker": "^", "edgecolor": "k", "linewidths": 0.9, "s": 46}
CLASS_COLORS = ("#2166ac", "#b2182b")  # class 0 blue, class 1 red, as the probability colormap
PROB_CMAP = "RdBu_r"
PROB_ALPHA = 0.55  # the probability's colours over white, so the points stay readable on them
BOUNDARY_LINE = {"color": "k", "lw": 1.5}  # the p = 0.5 line
DENSITY_FILL = 0.25  # a density curve's fill opacity (seaborn's kdeplot default)


def finite_values(values: np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` (any shape) as a flat array: a diverged run has NaN/inf weights."""
    flat = np.ravel(values)
    return flat[np.isfinite(flat)]


def diverged_note(ax: Axes) -> Text:
    """The note a panel shows instead of a diverged run's values (the text artist)."""
    return ax.text(0.5, 0.5, "diverged: no finite values", transform=ax.transAxes, ha="center", va="center", color="C3")


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4.5)) -> Axes:
    return ax if ax is not None else plt.figure(figsize=figsize).add_subplot()


def boundary_legend() -> list[Line2D]:
    """Proxy handles: marker shape tells train from validation, colour tells the class."""
    gray = {"ls": "", "mfc": "lightgray", "mec": "k"}
    return [
        Line2D([], [], marker="o", label="train", **gray),
        Line2D([], [], marker="^", label="validation", **gray),
        Line2D([], [], marker="s", ls="", color=CLASS_COLORS[0], label="class 0"),
        Line2D([], [], marker="s", ls="", color=CLASS_COLORS[1], label="class 1"),
        Line2D([], [], label="p = 0.5", **BOUNDARY_LINE),
    ]


def point_scatters(ax: Axes, size: float = 1.0, edge: float | None = None) -> list[PathCollection]:
    """The two empty scatters :func:`show_points` fills: train (●) and validation (▲). ``size`` scales the
    markers' area, ``edge`` (points) replaces their edge widths (the film's small frames)."""
    scatters = []
    for style in (TRAIN_STYLE, VAL_STYLE):
        drawn = {**style, "s": style["s"] * size} | ({} if edge is None else {"linewidths": edge})
        scatters.append(ax.scatter(np.empty(0), np.empty(0), **drawn))
    return scatters


def show_points(scatters: Sequence[PathCollection], data: Split) -> None:
    """Put ``data``'s train and validation points, coloured by class, on the scatters of :func:`point_scatters`:
    their two drawn inputs (the first two columns of (n, inputs); noise inputs are not drawn)."""
    for scatter, x, y in zip(scatters, (data.x_train, data.x_val), (data.y_train, data.y_val), strict=True):
        scatter.set_offsets(np.asarray(x, dtype=np.float64)[:, :2])
        scatter.set_facecolor(np.where(np.asarray(y) > 0.5, CLASS_COLORS[1], CLASS_COLORS[0]))


def plot_points(
    data: Split, ax: Axes | None = None, size: float = 1.0, edge: float | None = None
) -> list[PathCollection]:
    """The train (●) and validation (▲) points, coloured by class: their two scatters (see :func:`point_scatters`)."""
    scatters = point_scatters(_axes(ax), size, edge)
    show_points(scatters, data)
    for scatter in scatters:  # scatter() sized the data limits with no points; now with them
        scatter.axes.update_datalim(scatter.get_offsets())
    return scatters


def boundary_line(xs: np.ndarray, ys: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The p = 0.5 contour of ``prob`` (rows, cols) on the grid of axes ``xs`` (cols,) and ``ys`` (rows,): its x
    and y of shape (n,), pieces separated by NaN (empty when ``prob`` never crosses 0.5; NaN cells left out)."""
    field = prob if np.isfinite(prob).all() else np.ma.masked_invalid(prob)
    generator = contourpy.contour_generator(xs, ys, field, line_type=contourpy.LineType.ChunkCombinedNan)
    (points,) = generator.lines(0.5)[0]  # one chunk: an array of (n, 2), or None without a line
    points = np.empty((0, 2)) if points is None else points
    return points[:, 0], points[:, 1]


def plot_boundary(grid: Grid, data: Split, title: str = "", ax: Axes | None = None, legend: bool = True) -> Axes:
    """P(class 1) as an image, the p = 0.5 line, train (●) and validation (▲) points."""
    ax = _axes(ax)
    if not np.isfinite(grid.prob).any():
        diverged_note(ax)
        ax.set_title(title)
        return ax
    xs, ys = grid.xx[0], grid.yy[:, 0]  # the grid's axes (cols,) and (rows,)
    half_x, half_y = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) / 2, (ys[-1] - ys[0]) / max(len(ys) - 1, 1) / 2
    extent = (xs[0] - half_x, xs[-1] + half_x, ys[0] - half_y, ys[-1] + half_y)  # pixel centres on grid points
    style = {"cmap": PROB_CMAP, "vmin": 0, "vmax": 1, "alpha": PROB_ALPHA, "interpolation": "bilinear"}
    ax.imshow(np.ma.masked_invalid(grid.prob), origin="lower", extent=extent, aspect="auto", **style)
    ax.plot(*boundary_line(xs, ys, grid.prob), **BOUNDARY_LINE)
    plot_points(data, ax)
    ax.set(xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]), xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title)
    if legend:
        ax.legend(handles=boundary_legend(), loc="upper right", fontsize="small", framealpha=0.8)
    slice_note(data, ax)
    return ax


SLICE_NOTE = {"x": 0.01, "y": 0.01, "fontsize": "small", "va": "bottom", "ha": "left"}


def slice_text(data: Split) -> str:
    """With noise inputs (``dataset.noise_features``) the picture is one slice of the input space: which ("" if
    there are only the two drawn inputs)."""
    return f"slice where the {data.n_inputs - 2} noise inputs are 0" if data.n_inputs > 2 else ""


def slice_note(data: Split, ax: Axes) -> None:
    """Say on ``ax`` which slice of the input space it shows, when there are noise inputs."""
    if text := slice_text(data):
        ax.text(s=text, transform=ax.transAxes, **SLICE_NOTE)


# (history column, label, style) of the loss curves; the last two only when the run has a penalty
LOSS_CURVES = (
    ("data_loss", "train data loss", {"color": "C0"}),
    ("val_data_loss", "validation data loss", {"color": "C1"}),
    ("loss", "train loss + penalty", {"color": "C0", "ls": "--", "lw": 1}),
    ("val_loss", "validation loss + penalty", {"color": "C1", "ls": "--", "lw": 1}),
)
LOSS_LABELS = {"xlabel": "epoch", "ylabel": "binary cross-entropy"}


def loss_curves(history: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The values (epochs_run,) of the :data:`LOSS_CURVES` a run has (the first two, or all four with a
    penalty), non-finite values as NaN: gaps in the line, not crashes."""
    curve = {name: np.where(np.isfinite(v), v, np.nan) for name, v in history.items()}
    shown = LOSS_CURVES if np.nanmax(curve["penalty"], initial=0.0) > 0 else LOSS_CURVES[:2]
    return [curve[column] for column, _, _ in shown]


def plot_loss(history: dict[str, np.ndarray], title: str = "", ax: Axes | None = None) -> Axes:
    """Train and validation loss per epoch: data loss solid, total loss (with penalty) dashed."""
    ax = _axes(ax)
    for values, (_, label, style) in zip(loss_curves(history), LOSS_CURVES, strict=False):
        ax.plot(np.arange(1, len(values) + 1), values, label=label, **style)
    ax.set(title=title, **LOSS_LABELS)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return ax


def stats_text(stats: dict) -> str:
    """A kernel's statistics (from metrics) as the lines written on its density."""
    return (
        f"range [{stats['min']:.2f}, {stats['max']:.2f}]\nstd {stats['std']:.3f}\n"
        f"exactly 0: {stats['frac_zero']:.1%}\n|w| < {stats['near_zero_tol']:g}: {stats['frac_near_zero']:.1%}"
    )


STATS_STYLE = {"va": "top", "fontsize": "small", "family": "monospace"}  # at (0.02, 0.97) of the axes


def density_curve(values: np.ndarray, points: int = 200, cut: float = 3.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The Gaussian kernel density of the finite ``values`` (any shape) as seaborn's ``kdeplot`` draws it
    (``scipy.stats.gaussian_kde``: Scott's bandwidth, the sample standard deviation × n^(-1/5)), evaluated at
    ``points`` points from ``cut`` bandwidths below the smallest value to ``cut`` above the largest.

    Returns (support, density), each of shape (points,), or None when there is no density to draw (fewer
    than two values, or all equal).
    """
    finite = finite_values(values).astype(np.float64)
    if finite.size < 2 or finite.min() == finite.max():
        return None
    bandwidth = finite.std(ddof=1) * finite.size ** (-1 / 5)
    support = np.linspace(finite.min() - cut * bandwidth, finite.max() + cut * bandwidth, points)
    density = np.zeros(points)
    for chunk in np.array_split(finite, -(-finite.size // 4096)):  # (points, ≤ 4096) at a time: bounded memory
        density += np.exp(-0.5 * ((support[:, None] - chunk[None, :]) / bandwidth) ** 2).sum(axis=1)
    return support, density / (finite.size * bandwidth * np.sqrt(2 * np.pi))


def plot_weight_density(values: np.ndarray, label: str, stats: dict | None = None, ax: Axes | None = None) -> Axes:
    """Density (Gaussian KDE, see :func:`density_curve`) of kernel values, any shape, filled, in the next colour
    of ``ax`` (C0, C1, ...); ``stats`` (from metrics) written on the axes."""
    ax = _axes(ax)
    curve = density_curve(values)
    if curve is None and finite_values(values).size < 2:
        diverged_note(ax)
    elif curve is not None:
        color = f"C{len(ax.collections) % 10}"
        fill = ax.fill_between(*curve, facecolor=(color, DENSITY_FILL), edgecolor=color, label=label)
        fill.sticky_edges.y[:] = (0, np.inf)  # the density starts at 0, with no margin below
    if stats is not None:
        ax.text(0.02, 0.97, stats_text(stats), transform=ax.transAxes, **STATS_STYLE)
    label_density(ax)
    return ax


def label_density(ax: Axes) -> None:
    """A density's axis labels; as seaborn has it, no x label where the x tick labels are hidden (a box plot
    below shares the axis and labels it)."""
    ax.set_ylabel("density")
    ax.set_xlabel("weight value", visible=ax.xaxis.get_tick_params().get("labelbottom", True))


def plot_weight_box(values: Sequence[np.ndarray], labels: Sequence[str], ax: Axes | None = None) -> Axes:
    """Horizontal box plots of one or more kernels, any shapes, sharing the density's x axis."""
    ax = _axes(ax)
    ax.boxplot(
        [finite_values(v) for v in values],
        orientation="horizontal",
        tick_labels=labels,
        widths=0.6,
        flierprops={"markersize": 2},
        medianprops={"color": "k"},
    )
    if not ax.yaxis_inverted():
        ax.invert_yaxis()  # first run on top, as in the legend
    ax.set_xlabel("weight value")
    return ax


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
