"""A run's figures drawn on figures kept per process (regdemo.draw.run_figures, film, canvas): the same run
gives the same PNG whatever was drawn before; the probability painted as bilinear interpolation of the grid
through the colormap; the density is scipy's Gaussian KDE; the p = 0.5 line where the field crosses 0.5;
reused texts look as rendered; a diverged run still gets its figures."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image
from scipy.stats import gaussian_kde

from regdemo.draw import canvas, film, plots, run_figures
from regdemo.train.datasets import Split
from regdemo.train.metrics import Film, Grid, RunView

STATS = {"min": -1.0, "max": 1.0, "std": 0.5, "frac_zero": 0.0, "near_zero_tol": 1e-3, "frac_near_zero": 0.1}


def _view(seed: int, name: str = "run", epochs: int = 50, penalty: bool = True, diverged: bool = False) -> RunView:
    """A run's view made up from ``seed``: a tilted sigmoid boundary, noisy losses, normal kernels."""
    rng = np.random.default_rng(seed)
    xx, yy = np.meshgrid(np.linspace(-2, 3, 40), np.linspace(-1.5, 2, 30))
    prob = 1 / (1 + np.exp(-(xx * rng.uniform(0.5, 2) + yy - 0.5)))
    loss = np.abs(rng.normal(0.5, 0.1, epochs)) + np.linspace(1, 0, epochs)
    history = {"loss": loss + 0.1 * penalty, "data_loss": loss, "penalty": np.full(epochs, 0.1 * penalty)}
    history |= {"val_loss": loss + 0.2 + 0.1 * penalty, "val_data_loss": loss + 0.2}
    kernels = [("hidden_0", rng.normal(0, 0.5, (2, 16))), ("hidden_1", rng.normal(0, 0.3, (16, 8)))]
    if diverged:
        history = {key: np.full(epochs, np.nan) for key in history}
        prob = np.full_like(prob, np.nan)
        kernels = [(layer, np.full_like(kernel, np.nan)) for layer, kernel in kernels]
    x = rng.uniform(-1, 2, (20, 2)).astype(np.float32)
    data = Split(x[:15], (x[:15, 0] > 0.5).astype(np.float32), x[15:], (x[15:, 0] > 0.5).astype(np.float32))
    return RunView(name, f"{name} (L2 λ=0.01)", Grid(xx, yy, prob), data, history, kernels, [STATS, STATS])


def _pngs(view: RunView, all_layers: bool = False) -> list[bytes]:
    return [run_figures.boundary_png(view), run_figures.loss_png(view), run_figures.weights_png(view, all_layers)]


def _film(view: RunView, frames: int = 4) -> Film:
    xs, ys = view.grid.xx[0], view.grid.yy[:, 0]
    prob = np.stack([np.clip(view.grid.prob + 0.1 * i - 0.2, 0, 1) for i in range(frames)]).astype(np.float32)
    kernel = view.kernels[0][1].astype(np.float32)
    return Film(np.arange(frames) * 25, xs, ys, prob, np.stack([kernel * (1 + i) for i in range(frames)]))


def test_a_runs_pngs_do_not_depend_on_what_the_process_drew_before() -> None:
    first, other = _view(1, "first"), _view(2, "other", epochs=80, penalty=False)
    alone = _pngs(first)
    _pngs(other)
    film.frames(_film(other), other)
    again = _pngs(first)
    assert again == alone
    for png in alone:
        with Image.open(io.BytesIO(png)) as image:
            assert image.mode == "RGB" and image.size[0] >= 600
    # the film too: a film drawn again after another is the same pixels
    frames = film.frames(_film(first), first)
    film.frames(_film(other), other)
    assert np.array_equal(film.frames(_film(first), first), frames)
    assert frames.shape == (4, 300, 660, 3)


@pytest.mark.parametrize("channels", [3, 4])
def test_a_png_decodes_to_its_pixels(channels: int) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgb[:20, :30] = (255, 255, 255)  # a flat region, as plots have, beside noise
    pixels = np.concatenate([rgb, np.full((37, 53, 1), 255, np.uint8)], axis=2) if channels == 4 else rgb
    png = canvas.encode_png(pixels)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGB" and image.size == (53, 37) and not image.info  # no metadata
        assert np.array_equal(np.asarray(image), rgb)
    assert canvas.encode_png(pixels) == png  # the same bytes for the same pixels


def test_the_painter_interpolates_the_grid_bilinearly_through_the_colormap() -> None:
    fig = canvas.new_figure((3, 2))
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8), xlim=(0, 4), ylim=(0, 2))
    fig.canvas.draw()
    xs, ys = np.linspace(0, 4, 5), np.linspace(0, 2, 3)
    field = np.broadcast_to(xs / 4, (3, 5)).astype(np.float32)  # linear in x: bilinear interpolation is exact
    field = field.copy()
    field[0, 0] = np.nan  # a NaN corner: the pixels it touches stay as they were
    paint = canvas.grid_painter(ax, xs, ys, matplotlib.colormaps["viridis"], 0.5)
    paint(fig, field)
    rgb = canvas.pixels(fig)[paint.rows, paint.cols].astype(float)
    x0, _, x1, _ = ax.bbox.extents
    centre_x = (np.arange(paint.cols.start, paint.cols.stop) + 0.5 - x0) / (x1 - x0) * 4
    expected = 255 * (0.5 * matplotlib.colormaps["viridis"](np.clip(centre_x / 4, 0, 1))[:, :3] + 0.5)
    upper = rgb[len(rgb) // 4]  # a row at y ≈ 1.5: between grid rows 1 and 2, away from the NaN corner
    assert np.abs(upper - expected).max() <= 2.5  # 256 colour levels, rounding
    assert (rgb[-3, 3] == 255).all()  # next to the NaN corner (x, y ≈ 0): the white face, unpainted


def test_the_density_is_scipys_gaussian_kde_on_seaborns_support() -> None:
    values = np.random.default_rng(3).standard_t(3, size=(40, 50))
    support, density = plots.density_curve(values)
    kde = gaussian_kde(values.ravel())
    bandwidth = np.sqrt(kde.covariance[0, 0])
    assert support[0] == pytest.approx(values.min() - 3 * bandwidth) and len(support) == 200
    assert support[-1] == pytest.approx(values.max() + 3 * bandwidth)
    np.testing.assert_allclose(density, kde(support), rtol=1e-10)
    assert plots.density_curve(np.array([1.0, np.nan])) is None
    assert plots.density_curve(np.zeros(10)) is None


def test_the_boundary_line_is_where_the_field_crosses_one_half() -> None:
    xs, ys = np.linspace(-1, 1, 21), np.linspace(0, 1, 11)
    prob = np.broadcast_to(1 / (1 + np.exp(-10 * (xs - 0.3))), (11, 21))
    x, y = plots.boundary_line(xs, ys, prob)
    assert np.allclose(x[np.isfinite(x)], 0.3, atol=0.02) and np.nanmin(y) == 0 and np.nanmax(y) == 1
    assert plots.boundary_line(xs, ys, np.zeros((11, 21)))[0].size == 0


def test_reused_texts_are_the_texts_as_rendered() -> None:
    def render(make_canvas) -> np.ndarray:
        fig = matplotlib.figure.Figure(figsize=(4, 3), dpi=canvas.DPI)
        make_canvas(fig)
        ax = fig.add_subplot(title="a title, λ=0.01", xlabel="$x_1$", ylabel="density")
        ax.plot([0, 1], [0, 2])
        fig.canvas.draw()
        return canvas.pixels(fig).astype(int)

    plain, reused = render(FigureCanvasAgg), render(canvas.Canvas)
    again = render(canvas.Canvas)  # the texts now laid over from the first rendering
    assert np.array_equal(reused, again)
    differ = np.abs(plain - reused).max(axis=2) > 64
    assert differ.mean() < 0.002  # a quarter-pixel placement at most: a few edge pixels of a few glyphs


TEXTS = [  # (text, keywords): one line, several lines (monospace as the weights' statistics), mathtext
    ("a title, λ=0.01", {"fontsize": 12}),
    ("range [-1.00, 1.00]\nstd 0.500\nexactly 0: 0.0%", {"family": "monospace", "fontsize": "small"}),
    ("$x_1$", {"fontsize": 10}),
]


@pytest.mark.parametrize("angle", [0, 30, 90, 200])
def test_texts_are_laid_out_and_rendered_as_matplotlib_does_at_any_angle(angle: float) -> None:
    def render(make_canvas) -> tuple[list, np.ndarray]:
        fig = matplotlib.figure.Figure(figsize=(4, 3), dpi=canvas.DPI)
        make_canvas(fig)
        texts = [fig.text(0.5, 0.2 + 0.3 * i, s, rotation=angle, **kw) for i, (s, kw) in enumerate(TEXTS)]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        return [t.get_window_extent(renderer).bounds for t in texts], canvas.pixels(fig).astype(int)

    (plain_boxes, plain), (boxes, reused) = render(FigureCanvasAgg), render(canvas.Canvas)
    assert boxes == plain_boxes  # the cached font heights are matplotlib's own, to the last bit
    differ = np.abs(plain - reused).max(axis=2) > 64
    assert np.abs(plain - 255).sum() > 0 and differ.mean() < 0.002  # texts drawn, as matplotlib draws them


def test_a_diverged_run_gets_its_figures_with_a_note() -> None:
    pngs = _pngs(_view(4, "gone", diverged=True), all_layers=True)
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    _pngs(_view(5), all_layers=True)
    assert _pngs(_view(4, "gone", diverged=True), all_layers=True) == pngs  # nothing left from the run between
    gone = _view(4, "gone", diverged=True)
    gif, strip = film.encode(film.frames(_film(gone, frames=1), gone))  # NaN frames, and a film of one
    with Image.open(io.BytesIO(gif)) as image, Image.open(io.BytesIO(strip)) as frames:
        assert image.n_frames == 1 and frames.size == (660, 300)
    with Image.open(io.BytesIO(pngs[0])) as image:
        red = np.asarray(image).astype(int)
    note = (red[..., 0] > 150) & (red[..., 1] < 80) & (red[..., 2] < 80)  # C3, the note's red
    assert note.sum() > 50


def test_with_noise_inputs_the_points_are_their_first_two_columns_and_the_slice_is_named() -> None:
    view = _view(3)
    rng = np.random.default_rng(0)
    noisy = Split(*(np.c_[x, rng.normal(size=(len(x), 3))] if x.ndim == 2 else x for x in vars(view.data).values()))
    scatters = plots.point_scatters(matplotlib.figure.Figure().add_subplot())
    plots.show_points(scatters, noisy)
    np.testing.assert_array_equal(scatters[0].get_offsets(), view.data.x_train)  # the noise columns not drawn
    np.testing.assert_array_equal(scatters[1].get_offsets(), view.data.x_val)
    assert plots.slice_text(view.data) == "" and plots.slice_text(noisy) == "slice where the 3 noise inputs are 0"
    noisy_view = RunView(view.name, view.title, view.grid, noisy, view.history, view.kernels, view.layer_stats)
    assert run_figures.boundary_png(noisy_view) != run_figures.boundary_png(view)  # the note drawn
