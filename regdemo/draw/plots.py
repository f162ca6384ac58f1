"""Numbers → figures. Every function draws what ``metrics`` computed; each takes an optional ``ax``.

Drawing only: no function here trains, predicts or computes a statistic (the density estimate behind a
density curve is part of drawing it, as in seaborn's ``kdeplot``). A run's own figures are
:mod:`regdemo.draw.run_figures`; pixels and PNG bytes, :mod:`regdemo.draw.canvas`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import contourpy
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.text import Text

from regdemo.train.datasets import Split
from regdemo.train.metrics import Grid

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


def axes_for(ax: Axes | None, figsize: tuple[float, float] = (6, 4.5)) -> Axes:
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
    scatters = point_scatters(axes_for(ax), size, edge)
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
    ax = axes_for(ax)
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
    ax = axes_for(ax)
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
    ax = axes_for(ax)
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
    ax = axes_for(ax)
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
