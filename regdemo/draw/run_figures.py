"""A run's three figures, boundary.png, loss.png and weights.png, on figures kept per process.

Each kind of figure (and size) is built once per process and updated in place for every run: new data on
the same artists, not new artists on a new figure. boundary.png is drawn in layers (:mod:`regdemo.draw.canvas`):
its axes, ticks and labels rendered once per box, the probability painted straight into the axes' pixels,
the points and the p = 0.5 line drawn on top, the legend and the frame laid over from one render. loss.png
and weights.png follow the run's numbers with their axes, so they are drawn whole, laid out as a new figure
would be (``tight_layout`` from matplotlib's default margins): a run's PNG does not depend on the runs the
process drew before it.

:func:`boundary_figure`, :func:`loss_figure` and :func:`weights_figure` give a run's figure as a matplotlib
Figure of its own (for notebooks); the ``*_png`` functions give what a run folder holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.figure import Figure, SubplotParams
from matplotlib.transforms import Bbox

from regdemo.draw import canvas, plots
from regdemo.train.metrics import RunView

RUN_INCHES = (6, 4.5)  # boundary.png and loss.png
WEIGHTS_INCHES = (6, 5.5)  # per kernel shown
_MARGINS = ("left", "right", "bottom", "top", "wspace", "hspace")
_DEFAULT_MARGINS = {key: getattr(SubplotParams(), key) for key in _MARGINS}

Kept = TypeVar("Kept")
_KEPT: dict[tuple[Any, ...], Any] = {}


def _kept(make: Callable[..., Kept], *args: Any) -> Kept:
    """The process's one figure object made by ``make(*args)``: built on first use, then reused."""
    key = (make, *args)
    if key not in _KEPT:
        _KEPT[key] = make(*args)
    return _KEPT[key]


def _lay_out(fig: Figure) -> None:
    """``tight_layout`` from matplotlib's default margins, as a new figure would be laid out, and render."""
    fig.subplots_adjust(**_DEFAULT_MARGINS)
    fig.tight_layout()
    fig.canvas.draw()


class BoundaryFigure:
    """boundary.png: P(class 1) over the plot box, the p = 0.5 line, train ● and validation ▲ points, the legend."""

    def __init__(self) -> None:
        self.fig = canvas.new_figure(RUN_INCHES)
        ax = self.ax = self.fig.add_subplot()
        ax.set(xlabel="$x_1$", ylabel="$x_2$")
        self.points = plots.point_scatters(ax)
        (self.line,) = ax.plot([], [], **plots.BOUNDARY_LINE)
        self.legend = ax.legend(handles=plots.boundary_legend(), loc="upper right", fontsize="small", framealpha=0.8)
        self.note = plots.diverged_note(ax)
        self.title = ax.set_title("Decision boundary")
        self.slice = ax.text(s="", transform=ax.transAxes, **plots.SLICE_NOTE)
        self.spines = list(ax.spines.values())
        for artist in (*self.points, self.line, self.legend, self.note, self.title, self.slice, *self.spines):
            artist.set_animated(True)  # drawn per run, on a copy of the background
        self._box: tuple[float, ...] = ()

    def _place(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Limits, layout, the background and the two layers for a grid of axes ``xs`` and ``ys``."""
        self.ax.set(xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]))
        self.title.set_text("Decision boundary")  # a title of one line: the run's own is drawn per run
        _lay_out(self.fig)
        self._background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        self._frame = canvas.render_layer(self.fig, self.spines)
        self._legend = canvas.render_layer(self.fig, [self.legend])
        self._paint = canvas.grid_painter(self.ax, xs, ys, colormaps[plots.PROB_CMAP], plots.PROB_ALPHA)
        self._box = (xs[0], xs[-1], len(xs), ys[0], ys[-1], len(ys))

    def render(self, view: RunView) -> np.ndarray:
        """Draw ``view``'s boundary; return the figure's RGBA pixels (height, width, 4) uint8 (the canvas', not a
        copy)."""
        xs, ys, prob = view.grid.xx[0], view.grid.yy[:, 0], view.grid.prob
        if (xs[0], xs[-1], len(xs), ys[0], ys[-1], len(ys)) != self._box:
            self._place(xs, ys)
        self.fig.canvas.restore_region(self._background)
        rgb = canvas.pixels(self.fig)
        if np.isfinite(prob).any():
            self._paint(self.fig, prob)
            plots.show_points(self.points, view.data)
            self.line.set_data(*plots.boundary_line(xs, ys, prob))
            for artist in (*self.points, self.line):  # the line over the points, as the plot's z-order has it
                self.fig.draw_artist(artist)
            layers = (self._frame, self._legend)
        else:
            self.fig.draw_artist(self.note)
            layers = (self._frame,)
        for layer in layers:
            layer.over(rgb)
        self.title.set_text(f"Decision boundary: {view.title}")
        self.fig.draw_artist(self.title)
        if text := plots.slice_text(view.data):  # with noise inputs: the slice drawn
            self.slice.set_text(text)
            self.fig.draw_artist(self.slice)
        return canvas.rgba_pixels(self.fig)


class LossFigure:
    """loss.png: train and validation loss per epoch, data loss solid, with the penalty dashed."""

    def __init__(self) -> None:
        self.fig = canvas.new_figure(RUN_INCHES)
        ax = self.ax = self.fig.add_subplot()
        self.lines = [ax.plot([], [], label=label, **style)[0] for _, label, style in plots.LOSS_CURVES]
        ax.set(**plots.LOSS_LABELS)
        self._legend_lines = 0

    def show(self, view: RunView) -> Figure:
        """Draw ``view``'s curves; return the figure (rendered)."""
        curves = plots.loss_curves(view.history)
        for i, line in enumerate(self.lines):
            line.set_visible(i < len(curves))
            values = curves[i] if i < len(curves) else np.empty(0)
            line.set_data(np.arange(1, len(values) + 1), values)
        if len(curves) != self._legend_lines:  # a legend of the curves shown ("best" placed at each draw)
            self.ax.legend(handles=self.lines[: len(curves)], fontsize="small")
            self._legend_lines = len(curves)
        self.ax.set_title(f"Loss: {view.title}")
        self.ax.set_autoscale_on(True)
        self.ax.relim(visible_only=True)
        self.ax.autoscale_view()
        self.ax.set_ylim(bottom=0)
        if not np.isfinite(self.ax.dataLim.get_points()).all():  # no finite loss: fixed limits, not the last run's
            self.ax.set(xlim=(0, len(curves[0]) + 1), ylim=(0, 1))
        _lay_out(self.fig)
        return self.fig


class WeightsFigure:
    """weights.png: per kernel shown, its density (with its statistics) above its box plot."""

    def __init__(self, columns: int) -> None:
        self.fig = canvas.new_figure((WEIGHTS_INCHES[0] * columns, WEIGHTS_INCHES[1]))
        self.axes = self.fig.subplots(2, columns, squeeze=False, sharex="col", gridspec_kw={"height_ratios": [3, 1]})
        self.fills, self.stats, self.notes = [], [], []
        for ax in self.axes[0]:
            fill = ax.fill_between([0.0, 1.0], [0.0, 0.0], facecolor=("C0", plots.DENSITY_FILL), edgecolor="C0")
            fill.sticky_edges.y[:] = (0, np.inf)  # as plots.plot_weight_density's
            self.fills.append(fill)
            self.stats.append(ax.text(0.02, 0.97, "", transform=ax.transAxes, **plots.STATS_STYLE))
            self.notes.append(plots.diverged_note(ax))
            plots.label_density(ax)
        self.boxes: list[list[Any]] = [[] for _ in self.axes[1]]
        self.title = self.fig.suptitle(" ")

    def _density(self, col: int, kernel: np.ndarray, stats: dict) -> None:
        ax, fill = self.axes[0, col], self.fills[col]
        curve = plots.density_curve(kernel)
        fill.set_visible(curve is not None)
        self.notes[col].set_visible(curve is None and plots.finite_values(kernel).size < 2)
        ax.dataLim.set_points(Bbox.null().get_points())  # the limits of this kernel's curve only
        if curve is not None:
            fill.set_data(curve[0], curve[1], 0)
            ax.update_datalim(np.c_[np.r_[curve[0], curve[0]], np.r_[curve[1], np.zeros_like(curve[1])]])
        self.stats[col].set_text(plots.stats_text(stats))

    def _box(self, col: int, name: str, kernel: np.ndarray) -> None:
        ax = self.axes[1, col]
        for artist in self.boxes[col]:
            artist.remove()
        # boxplot adds its positions and labels to fixed ticks already there: start from none
        ax.yaxis.set_major_locator(ticker.NullLocator())
        ax.yaxis.set_major_formatter(ticker.NullFormatter())
        plots.plot_weight_box([kernel], [name], ax=ax)
        self.boxes[col] = [*ax.lines]
        ax.relim()

    def show(self, view: RunView) -> Figure:
        """Draw ``view``'s first kernel (or as many as the figure has columns); return the figure (rendered)."""
        chosen = list(zip(view.kernels, view.layer_stats, strict=True))[: len(self.fills)]
        for col, ((name, kernel), stats) in enumerate(chosen):
            self._density(col, kernel, stats)
            self._box(col, name, kernel)
            self.axes[0, col].set_title(f"{name} kernel {tuple(kernel.shape)}")
            for ax in self.axes[:, col]:
                ax.set_autoscale_on(True)
                ax.autoscale_view()
            # autoscaling keeps the last limits where there is nothing to scale to: fixed ones instead
            if not self.fills[col].get_visible():
                self.axes[0, col].set_ylim(0, 1)
            if not plots.finite_values(kernel).size:
                self.axes[0, col].set_xlim(-1, 1)
        self.title.set_text(f"Weights: {view.title}")
        _lay_out(self.fig)
        return self.fig


def _columns(view: RunView, all_layers: bool) -> int:
    return len(view.kernels) if all_layers else 1


def boundary_figure(view: RunView) -> Figure:
    """A run's decision boundary as a Figure of its own, drawn by :func:`regdemo.draw.plots.plot_boundary` (an
    image artist where boundary.png has the probability painted in: the same look)."""
    fig = plots.plot_boundary(view.grid, view.data, f"Decision boundary: {view.title}").figure
    fig.tight_layout()
    return fig


def loss_figure(view: RunView) -> Figure:
    """A run's loss.png as a Figure of its own."""
    return LossFigure().show(view)


def weights_figure(view: RunView, all_layers: bool = False) -> Figure:
    """A run's weights.png as a Figure of its own: the first layer's kernel, or each Dense layer's side by side."""
    return WeightsFigure(_columns(view, all_layers)).show(view)


def boundary_png(view: RunView) -> bytes:
    """boundary.png of a run, drawn on the process's kept figure."""
    return canvas.encode_png(_kept(BoundaryFigure).render(view))


def loss_png(view: RunView) -> bytes:
    """loss.png of a run, drawn on the process's kept figure."""
    return canvas.encode_png(canvas.rgba_pixels(_kept(LossFigure).show(view)))


def weights_png(view: RunView, all_layers: bool = False) -> bytes:
    """weights.png of a run, drawn on the process's kept figure of that many columns."""
    return canvas.encode_png(canvas.rgba_pixels(_kept(WeightsFigure, _columns(view, all_layers)).show(view)))
