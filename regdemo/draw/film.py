"""The training as a film (``plots.snapshots``): the frames of training.gif and training_frames.png.

Drawing only, from a :class:`regdemo.train.metrics.Film`: per snapshot, the decision boundary on the left (as
boundary.png draws it: P(class 1), the p = 0.5 line, train ● and validation ▲ points) and the first
layer's weight density on the right (a histogram on bins fixed over all frames), titled with the epoch.
One figure is drawn for all frames, on axes fixed over all frames so that nothing jumps: its static
part (axes, ticks, labels) is rendered once, and each frame redraws only the artists that change on top
of that background (matplotlib's blitting), several times faster than a full draw per frame.
Both files hold the same pixels: the frames stacked top to bottom are quantized to one
palette once, the PNG is that strip, the GIF its frames in turn.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from regdemo.draw.plots import PROB_CMAP, plot_points
from regdemo.train.metrics import Film, RunView

FRAME_INCHES, FRAME_DPI = (6.6, 3.0), 100  # 660 × 300 px per frame
BINS = 60
FRAME_MS, LAST_FRAME_MS = 180, 1500  # the last frame (the trained net) stays up longer before the loop


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


def frames(film: Film, view: RunView) -> list[np.ndarray]:
    """One RGB image (height, width, 3) uint8 per snapshot of ``film``, all of the same size.

    ``view`` gives the points and the run's title. Each frame updates the probability image, the p = 0.5
    contour, the density and the title of one figure.
    """
    fig = Figure(figsize=FRAME_INCHES, dpi=FRAME_DPI)
    canvas = FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    box = (float(film.xs[0]), float(film.xs[-1]), float(film.ys[0]), float(film.ys[-1]))
    prob = np.ma.masked_invalid(film.prob)
    style = {"extent": box, "origin": "lower", "cmap": PROB_CMAP, "vmin": 0, "vmax": 1, "alpha": 0.55}
    image = left.imshow(prob[0], aspect="auto", interpolation="bilinear", **style)
    points = plot_points(view.data, left, size=1 / 3, edge=0.4)
    left.set(xlim=box[:2], ylim=box[2:], xlabel="$x_1$", ylabel="$x_2$")
    left.set_title("decision boundary", fontsize="small")
    edges, density = _weight_axis(film.kernels)
    steps = right.stairs(density[0], edges, fill=True, alpha=0.5, color="C0")
    right.set(xlim=(edges[0], edges[-1]), ylim=(0, 1.05 * max(float(density.max()), 1e-9)))
    right.set(xlabel="weight value", ylabel="density")
    right.set_title(f"first layer kernel {tuple(film.kernels.shape[1:])}", fontsize="small")
    title = fig.suptitle(f"{view.title}: epoch {int(film.epochs[-1])}", fontsize="medium")
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.82, wspace=0.3)  # fixed: tight_layout costs 0.2 s
    for artist in (image, *points, steps, title):  # left out of the background, drawn per frame
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    out = []
    for i, epoch in enumerate(film.epochs):
        canvas.restore_region(background)
        image.set_data(prob[i])
        steps.set_data(density[i])
        title.set_text(f"{view.title}: epoch {int(epoch)}")
        with warnings.catch_warnings():  # a frame without a p = 0.5 crossing has no line: nothing to say
            warnings.simplefilter("ignore", UserWarning)
            contour = left.contour(film.xs, film.ys, prob[i], levels=[0.5], colors="k", linewidths=1.2)
        # the points on top of the boundary, the frame's edges on top of the image, as a full draw has them
        for artist in (image, contour, *points, *left.spines.values(), steps, title):
            fig.draw_artist(artist)
        contour.remove()
        out.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return out


def encode(images: list[np.ndarray]) -> tuple[bytes, bytes]:
    """(training.gif, training_frames.png) bytes from equal-sized RGB frames (height, width, 3) uint8.

    The frames stacked top to bottom are quantized to one 256-colour palette (fast octree: the frames
    hold few colours), so the GIF's frames and the PNG's rows are the same pixels.
    """
    height = images[0].shape[0]
    strip = Image.fromarray(np.concatenate(images)).quantize(256, method=Image.Quantize.FASTOCTREE)
    png = io.BytesIO()
    strip.save(png, format="PNG")
    cut = [strip.crop((0, i * height, strip.width, (i + 1) * height)) for i in range(len(images))]
    gif = io.BytesIO()
    durations = [FRAME_MS] * (len(cut) - 1) + [LAST_FRAME_MS]
    cut[0].save(gif, format="GIF", save_all=True, append_images=cut[1:], duration=durations, loop=0)
    return gif.getvalue(), png.getvalue()
