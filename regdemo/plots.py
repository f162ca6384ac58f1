"""Numbers → figures. Every function draws what ``metrics`` computed; each takes an optional ``ax``.

Drawing only: no function here trains, predicts or computes a statistic (seaborn's density estimate
is part of drawing a density). Figures are written with the Agg backend and no timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.inspection import DecisionBoundaryDisplay

from regdemo.datasets import Split
from regdemo.metrics import Grid

TRAIN_STYLE = {"marker": "o", "edgecolor": "k", "linewidths": 0.6, "s": 28}
VAL_STYLE = {"marker": "^", "edgecolor": "k", "linewidths": 0.9, "s": 46}
CLASS_COLORS = ("#2166ac", "#b2182b")  # class 0 blue, class 1 red, as the probability colormap
PROB_CMAP = "RdBu_r"


@dataclass(frozen=True)
class RunView:
    """What the plots need from one trained run (all computed upstream).

    ``history`` maps column names to arrays of shape (epochs_run,); ``kernels`` is
    ``[(layer name, kernel of shape (inputs, units))]``; ``layer_stats`` the matching stats dicts.
    """

    name: str
    title: str
    grid: Grid
    data: Split
    history: dict[str, np.ndarray]
    kernels: list[tuple[str, np.ndarray]]
    layer_stats: list[dict]


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


def plot_boundary(grid: Grid, data: Split, title: str = "", ax: Axes | None = None, legend: bool = True) -> Axes:
    """P(class 1) as a filled contour, the p = 0.5 line, train (●) and validation (▲) points."""
    ax = _axes(ax)
    if not np.isfinite(grid.prob).any():
        _diverged_note(ax)
        ax.set_title(title)
        return ax
    display = DecisionBoundaryDisplay(xx0=grid.xx, xx1=grid.yy, n_classes=2, response=grid.prob)
    display.plot(
        ax=ax, plot_method="contourf", cmap=PROB_CMAP, alpha=0.55, levels=np.linspace(0, 1, 11), vmin=0, vmax=1
    )
    ax.contour(grid.xx, grid.yy, grid.prob, levels=[0.5], colors="k", linewidths=1.5)
    for x, y, style in ((data.x_train, data.y_train, TRAIN_STYLE), (data.x_val, data.y_val, VAL_STYLE)):
        ax.scatter(x[:, 0], x[:, 1], c=np.where(y > 0.5, CLASS_COLORS[1], CLASS_COLORS[0]), **style)
    ax.set(xlim=(grid.xx.min(), grid.xx.max()), ylim=(grid.yy.min(), grid.yy.max()), xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title)
    if legend:
        ax.legend(handles=_boundary_legend(), loc="upper right", fontsize="small", framealpha=0.8)
    return ax


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


def compare_boundaries(views: Sequence[RunView]) -> Figure:
    """All runs' boundaries side by side, one panel per run."""
    fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 4.2), squeeze=False)
    for i, (view, ax) in enumerate(zip(views, axes[0], strict=True)):
        plot_boundary(view.grid, view.data, view.title, ax=ax, legend=i == 0)
    fig.tight_layout()
    return fig


def compare_loss(views: Sequence[RunView]) -> Figure:
    """All runs' train/validation curves, one panel per run with a shared loss axis."""
    fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 3.8), squeeze=False, sharey=True)
    for view, ax in zip(views, axes[0], strict=True):
        plot_loss(view.history, view.title, ax=ax)
    fig.tight_layout()
    return fig


def compare_weights(views: Sequence[RunView]) -> Figure:
    """All runs' first-layer kernel densities overlaid (the lecture's figure), box plots below."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    for view in views:
        _name, kernel = view.kernels[0]
        stats = view.layer_stats[0]
        plot_weight_density(kernel, f"{view.title} (std {stats['std']:.3f}, {stats['frac_zero']:.0%} zero)", ax=top)
    top.legend(fontsize="small")
    top.set_title(f"First-layer weights ({view.kernels[0][0]}), all runs")
    plot_weight_box([v.kernels[0][1] for v in views], [v.name for v in views], ax=bottom)
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> None:
    """Write ``fig`` as PNG (no timestamp in the file) and free it."""
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
