"""The training as a film (``plots.snapshots``): the frames of training.gif and training_frames.png.

Drawing only, from a :class:`regdemo.train.metrics.Film`: per snapshot, the decision boundary on the left (as
boundary.png draws it: P(class 1), the p = 0.5 line, train ● and validation ▲ points) and the first
layer's weight density on the right (a histogram on bins fixed over all frames), titled with the epoch.
One figure is kept per process, on axes fixed over all frames so that nothing jumps. A film renders its
static part (axes, ticks, labels) once, and its points and frame once onto transparent pixels; each frame
is a copy of that background with the probability painted in (:mod:`regdemo.draw.canvas`), the p = 0.5
line, the points laid over, the histogram and the title drawn: no full draw per frame.
Both files hold the same pixels: the frames stacked top to bottom are mapped to one palette once, the
PNG is that strip, the GIF its frames in turn.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image

from regdemo.draw import canvas, plots
from regdemo.train.metrics import Film, RunView

FRAME_INCHES, FRAME_DPI = (6.6, 3.0), 100  # 660 × 300 px per frame
BINS = 60
FRAME_MS, LAST_FRAME_MS = 180, 1500  # the last frame (the trained net) stays up longer before the loop
PALETTE_ROWS = 8  # the palette is chosen from every 8th row of the frames (all their colours, an 8th the work)
UNCHANGED = 255  # the GIF's transparent colour: "as in the frame before" (disposal 1 keeps that frame)


def _weight_axis(kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (BINS + 1,) over every frame's finite weights, and each frame's density on them (N, BINS).

    ``kernels`` is (N, inputs, units); a diverged frame's non-finite weights are left out.
    """
    flat = kernels.reshape(len(kernels), -1)
    finite = flat[np.isfinite(flat)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = 0.05 * (high - low) if high > low else 1.0
    edges = np.linspace(low - pad, high + pad, BINS + 1)
    counts = np.stack([np.histogram(row[np.isfinite(row)], edges)[0] for row in flat]).astype(np.float64)
    return edges, counts / (flat.shape[1] * np.diff(edges))


class FilmFigure:
    """The film's figure: the boundary on the left, the first kernel's histogram on the right, the epoch above.

    Rendered in three steps: the left panel's background once per plot box; a film's background (that, with
    the histogram's axes and the title's text up to the epoch's number) once per film; a frame on a copy.
    """

    def __init__(self) -> None:
        self.fig = canvas.new_figure(FRAME_INCHES, FRAME_DPI)
        left, right = self.left, self.right = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        self.fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.82, wspace=0.3)  # fixed: no layout per film
        left.set(xlabel="$x_1$", ylabel="$x_2$")
        left.set_title("decision boundary", fontsize="small")
        (self.line,) = left.plot([], [], color="k", lw=1.2)
        self.points = plots.point_scatters(left, size=1 / 3, edge=0.4)
        self.steps = right.stairs([0.0], [0.0, 1.0], fill=True, alpha=0.5, color="C0")
        right.set(xlabel="weight value", ylabel="density")
        self.kernel = right.set_title("", fontsize="small")
        title = {"y": 0.98, "va": "top", "fontsize": "medium"}  # where suptitle puts a title
        self.title, self.epoch = self.fig.text(0.5, s=" ", **title), self.fig.text(0.5, s=" ", **title)
        self.spines = list(left.spines.values())  # painted over with the image, laid over again
        for artist in (self.line, *self.points, self.steps, self.title, self.epoch, right, *self.spines):
            artist.set_animated(True)
        self._box: tuple[float, ...] = ()

    def _left_background(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """The left panel's axes for this plot box, rendered (once per box) with its painter."""
        box = (float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1]), len(xs), len(ys))
        if box != self._box:
            self.left.set(xlim=box[:2], ylim=box[2:4])
            self.fig.canvas.draw()
            self._left = self.fig.canvas.copy_from_bbox(self.fig.bbox)
            self._paint = canvas.grid_painter(self.left, xs, ys, colormaps[plots.PROB_CMAP], plots.PROB_ALPHA)
            self._box = box
        self.fig.canvas.restore_region(self._left)

    def _place_title(self, text: str, epochs: np.ndarray) -> None:
        """``text: epoch`` left of the epoch's number, the whole centred as it is for the widest number."""
        renderer = self.fig.canvas.get_renderer()
        width = self.fig.bbox.width

        def advance(words: str) -> float:  # in figure fractions
            self.epoch.set_text(words)
            return self.epoch.get_window_extent(renderer).width / width

        prefix = f"{text}: epoch"
        digits = "0" * len(str(int(epochs.max(initial=0))))  # digits are of one width
        start = 0.5 - advance(f"{prefix} {digits}") / 2
        self.title.set(text=prefix, x=start, ha="left")
        self.epoch.set(x=start + advance(f"{prefix} 0") - advance("0"), ha="left")

    def frames(self, film: Film, view: RunView) -> np.ndarray:
        """The RGB frames (N, height, width, 3) uint8, one per snapshot of ``film``."""
        xs, ys = film.xs, film.ys
        self._left_background(xs, ys)
        edges, density = _weight_axis(film.kernels)
        self.right.set(xlim=(edges[0], edges[-1]), ylim=(0, 1.05 * max(float(density.max()), 1e-9)))
        self.kernel.set_text(f"first layer kernel {tuple(film.kernels.shape[1:])}")
        self._place_title(view.title, film.epochs)
        for artist in (self.right, self.title):
            self.fig.draw_artist(artist)
        background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        plots.show_points(self.points, view.data)
        on_top = canvas.render_layer(self.fig, [*self.points, *self.spines])
        self.steps.set_data(density[0], edges)
        out = np.empty((len(film.epochs), *canvas.pixels(self.fig).shape), dtype=np.uint8)
        for frame, prob, counts, epoch in zip(out, film.prob, density, film.epochs, strict=True):
            self.fig.canvas.restore_region(background)
            self._paint(self.fig, prob)
            self.line.set_data(*plots.boundary_line(xs, ys, prob))
            self.fig.draw_artist(self.line)
            rgb = canvas.pixels(self.fig)
            on_top.over(rgb)  # the points over the boundary, the frame over the image, as a full draw has them
            self.steps.set_data(counts)
            self.epoch.set_text(str(int(epoch)))
            for artist in (self.steps, self.epoch):
                self.fig.draw_artist(artist)
            canvas.copy_rgb(canvas.rgba_pixels(self.fig), frame)
        return out


_FIGURE: list[FilmFigure] = []  # the process's one film figure, made on first use


def frames(film: Film, view: RunView) -> np.ndarray:
    """The RGB frames (N, height, width, 3) uint8, one per snapshot of ``film``, drawn on the process's film
    figure. ``view`` gives the points and the run's title."""
    if not _FIGURE:
        _FIGURE.append(FilmFigure())
    return _FIGURE[0].frames(film, view)


def encode(images: np.ndarray) -> tuple[bytes, bytes]:
    """(training.gif, training_frames.png) bytes from RGB frames (N, height, width, 3) uint8.

    The frames stacked top to bottom are mapped to one palette of 255 colours (fast octree, chosen from
    every :data:`PALETTE_ROWS`-th row: the frames hold few colours), so the GIF's frames and the PNG's rows
    are the same pixels. After the first, a GIF frame holds only the pixels that changed, the others are
    the 256th colour, transparent, showing the frame before.
    """
    height = images.shape[1]
    stacked = images.reshape(-1, *images.shape[2:])
    palette = Image.fromarray(stacked[::PALETTE_ROWS]).quantize(255, method=Image.Quantize.FASTOCTREE)
    strip = Image.fromarray(stacked).quantize(palette=palette, dither=Image.Dither.NONE)
    png = io.BytesIO()
    strip.save(png, format="PNG", compress_level=canvas.PNG_LEVEL)
    index = np.array(strip).reshape(len(images), height, -1)  # a copy, cut in place
    for later, earlier in zip(index[:0:-1], index[-2::-1], strict=True):  # from the last: each before is uncut
        later[later == earlier] = UNCHANGED
    cut = [Image.fromarray(frame, "P") for frame in index]
    for frame in cut:
        frame.putpalette(strip.getpalette())
    gif = io.BytesIO()
    durations = [FRAME_MS] * (len(cut) - 1) + [LAST_FRAME_MS]
    options = {"duration": durations, "loop": 0, "transparency": UNCHANGED, "disposal": 1, "optimize": False}
    cut[0].save(gif, format="GIF", save_all=True, append_images=cut[1:], **options)
    return gif.getvalue(), png.getvalue()
