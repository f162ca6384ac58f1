"""Trained model + data → numbers: final losses, the generalization gap, the last epochs' medians
(the window), weight stats, the boundary grid; and aggregates over seeds.

Everything the plots and the report show is computed here; they only draw it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from regdemo.columns import COLUMNS, TEST_KEYS
from regdemo.config.resources import grid_chunk_points
from regdemo.config.schema import BoundaryPlotConfig
from regdemo.train.datasets import Split

# Keras (and so TensorFlow, ~2-3 s) is imported inside the functions that take a model, so that
# the report and compare commands, which only read saved numbers, start without it.
if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Grid:
    """The decision grid: ``xx``, ``yy`` and ``prob`` (P(class 1)) of shape (resolution, resolution)."""

    xx: np.ndarray
    yy: np.ndarray
    prob: np.ndarray


# Points per axis of the training film's grid at most: the boundary plot's box at min(resolution, this),
# so 20 snapshots cost a few ms each and stay ~1 MB in plot_data.npz.
SNAPSHOT_RESOLUTION = 100


@dataclass(frozen=True)
class Film:
    """The training film's numbers (``plots.snapshots``), one entry per snapshot in epoch order.

    ``epochs`` (N,) int64 (epochs done: 0 is the initial weights); ``prob`` (N, rows, cols) float32,
    P(class 1) on the grid of axes ``xs`` (cols,) and ``ys`` (rows,) (float32, the boundary plot's box);
    ``kernels`` (N, inputs, units) float32, the first Dense layer's kernel.
    """

    epochs: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    prob: np.ndarray
    kernels: np.ndarray


@dataclass(frozen=True)
class RunView:
    """What the plots need from one run (all computed here or read back from its folder).

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


def plot_box(cfg: BoundaryPlotConfig, x: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The plot box: the configured limits, or the data's range (x of shape (n, 2)) widened by 1 each side."""
    auto = [(float(x[:, i].min()) - 1.0, float(x[:, i].max()) + 1.0) for i in (0, 1)]
    return tuple(cfg.xlim) if cfg.xlim else auto[0], tuple(cfg.ylim) if cfg.ylim else auto[1]


def grid_axes(cfg: BoundaryPlotConfig, x: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid's axes over the plot box (:func:`plot_box` of ``x`` (n, 2)): ``xs``, ``ys`` of shape
    (resolution,), float32 (the model's input type)."""
    xlim, ylim = plot_box(cfg, x)
    return np.linspace(*xlim, resolution, dtype=np.float32), np.linspace(*ylim, resolution, dtype=np.float32)


def snapshot_axes(cfg: BoundaryPlotConfig, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training film's grid axes: the boundary plot's box at min(resolution, SNAPSHOT_RESOLUTION)."""
    return grid_axes(cfg, x, min(cfg.resolution, SNAPSHOT_RESOLUTION))


def boundary_grid(model: keras.Model, cfg: BoundaryPlotConfig, x: np.ndarray, chunk: int | None = None) -> Grid:
    """P(class 1) over the plot box: the model called on the resolution² points in chunks of ``chunk`` points.

    ``x`` (n, inputs) are the data's rows, used for the box when ``cfg`` sets no limits (its first two
    columns); with noise inputs the grid is the slice where they are 0 (:func:`grid_inputs`). ``chunk`` defaults
    to :func:`regdemo.config.resources.grid_chunk_points` of the widest layer, so a layer's output over a chunk
    stays near 256 MiB whatever the resolution; every grid of the shipped configs is one call (widths up
    to 257 at 300² points) or, for 1000 units, two chunks with bit-identical results (a test checks).
    Chunks start at multiples of 1024 points, so SIMD tails fall where one call puts them.
    (``model.predict`` would rebuild its data pipeline and batch by 32: ~2800 steps for 90k points.)
    """
    xx, yy = np.meshgrid(*grid_axes(cfg, x, cfg.resolution))
    points = grid_inputs(np.c_[xx.ravel(), yy.ravel()], x.shape[1])
    if chunk is None:
        chunk = grid_chunk_points(max((int(w.shape[-1]) for w in model.weights), default=1))
    prob = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), chunk):
        prob[start : start + chunk] = model(points[start : start + chunk], training=False).numpy()[:, 0]
    return Grid(xx, yy, prob.reshape(xx.shape).astype(np.float64))


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss (with penalty), data loss, penalty and accuracy on ``x`` (n, 2), ``y`` (n,), whole set at once."""
    import keras

    from regdemo.train.models import penalty

    prob = model(x, training=False)
    data_loss = float(keras.losses.BinaryCrossentropy()(y[:, None], prob))
    pen = float(penalty(model))
    accuracy = float(np.mean((prob.numpy()[:, 0] > 0.5) == (y > 0.5)))
    return {"loss": data_loss + pen, "data_loss": data_loss, "penalty": pen, "accuracy": accuracy}


def final_metrics(model: keras.Model, data: Split) -> dict[str, float]:
    """The ``final`` block of metrics.json: train and validation with the final weights, keyed as the
    history's columns (``val_*`` from the validation rows), then :data:`TEST_KEYS` from the test rows
    when the split holds any."""
    sides = {"": evaluate(model, data.x_train, data.y_train), "val_": evaluate(model, data.x_val, data.y_val)}
    final = {name: sides["val_" if name.startswith("val_") else ""][name.removeprefix("val_")] for name in COLUMNS}
    if len(data.x_test):
        test = evaluate(model, data.x_test, data.y_test)
        final |= {key: test[key.removeprefix("test_")] for key in TEST_KEYS}
    return final


def window_epochs(epochs_run: int, fraction: float) -> int:
    """How many last epochs the window covers: ⌈fraction·epochs_run⌉, at least 1.

    The product is rounded to 9 decimals first, so 0.1·30 (3.0000000000000004 in floating point) is 3.
    """
    return max(1, math.ceil(round(fraction * epochs_run, 9)))


def window_stats(columns: Mapping[str, np.ndarray], fraction: float) -> dict[str, float | int]:
    """The ``window`` block of metrics.json: the median of each history column over the last
    :func:`window_epochs` rows, less noisy than one epoch's figure.

    ``columns`` maps names to arrays of shape (epochs_run,) (a History's, or history.csv read back).
    Returns ``epochs`` (rows covered), the median of every column in ``columns``' order, and
    ``generalization_gap`` = median ``val_data_loss`` − median ``data_loss``. A column holding a
    non-finite value inside the window (a diverged run) has a NaN median (null in metrics.json).
    """
    epochs = window_epochs(len(next(iter(columns.values()))), fraction)
    medians = {}
    for name, values in columns.items():
        last = np.asarray(values, dtype=np.float64)[-epochs:]
        medians[name] = float(np.median(last)) if np.isfinite(last).all() else math.nan
    return {"epochs": epochs, **medians, "generalization_gap": medians["val_data_loss"] - medians["data_loss"]}


def seed_aggregate(values: Iterable[float], confidence: float = 0.95) -> dict[str, float | int]:
    """Mean, min, max and Student's t interval of the mean for one figure over runs that differ only by seed.

    ``values``: one number per seed, shape (n,). Non-finite values (diverged runs) are left out and ``n``
    counts the values used. ``ci_low``/``ci_high``: the ``confidence`` interval of the mean, mean ± t·s/√n
    with t Student's quantile at n − 1 degrees of freedom (what ``scipy.stats.t.interval`` computes;
    ``scipy.special.stdtrit`` is the function it calls, imported alone because ``regdemo check`` must
    start fast and scipy.stats takes ~0.75 s to import); NaN with fewer than two values (no spread to
    judge by); the mean itself when all values are equal. All NaN (and ``n`` 0) when no value is finite.
    """
    from scipy.special import stdtrit

    v = np.asarray(list(values), dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return {"mean": math.nan, "min": math.nan, "max": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    mean = float(v.mean())
    low = high = math.nan
    if v.size >= 2:
        half = float(stdtrit(v.size - 1, 0.5 + confidence / 2)) * float(v.std(ddof=1)) / math.sqrt(v.size)
        low, high = mean - half, mean + half
    return {
        "mean": mean,
        "min": float(v.min()),
        "max": float(v.max()),
        "ci_low": low,
        "ci_high": high,
        "n": int(v.size),
    }


def weight_stats(values: np.ndarray, near_zero_tol: float) -> dict[str, float]:
    """Summary of any array of weights: count, min, max, mean, std, l1 = Σ|w|, l2 = Σw², zero fractions.

    ``frac_zero`` counts values exactly 0.0; ``frac_near_zero`` those with |w| < ``near_zero_tol``.
    """
    w = np.asarray(values, dtype=np.float64).ravel()
    return {
        "count": int(w.size),
        "min": float(w.min()),
        "max": float(w.max()),
        "mean": float(w.mean()),
        "std": float(w.std()),
        "l1": float(np.abs(w).sum()),
        "l2": float(np.square(w).sum()),
        "frac_zero": float(np.mean(w == 0.0)),
        "frac_near_zero": float(np.mean(np.abs(w) < near_zero_tol)),
        "near_zero_tol": near_zero_tol,
    }


def kernels(model: keras.Model) -> list[tuple[str, np.ndarray]]:
    """``(layer name, kernel)`` for every Dense layer in order; kernel of shape (inputs, units)."""
    from regdemo.train.models import dense_layers

    return [(layer.name, layer.kernel.numpy()) for layer in dense_layers(model)]


def weights_summary(model: keras.Model, near_zero_tol: float) -> dict:
    """The ``weights`` block: stats over all kernel values, then per Dense layer (biases excluded)."""
    named = kernels(model)
    layers = [{"name": name, "shape": list(k.shape), **weight_stats(k, near_zero_tol)} for name, k in named]
    everything = np.concatenate([k.ravel() for _, k in named])
    return {"kernels": weight_stats(everything, near_zero_tol), "layers": layers}


def input_selection(kernel: np.ndarray, informative: int = 2) -> dict[str, object]:
    """The ``inputs`` block: what the first layer makes of each input, from its kernel (inputs, units).

    Input i feeds the network only through row i of the first kernel: the row exactly zero means the input
    is dropped (feature selection). ``row_norms`` (inputs,) are the rows' L2 norms and ``row_zero`` (inputs,)
    whether each row is exactly 0.0; the first ``informative`` inputs are the point's coordinates, the
    rest noise (``dataset.noise_features``). ``noise_inputs_zeroed`` / ``informative_inputs_zeroed`` are the
    shares of rows exactly zero among each (``noise_inputs_zeroed`` None without noise inputs), and
    ``noise_input_norm_max`` / ``informative_input_norm_min`` the largest noise row norm (None without
    noise inputs) and the smallest informative one.
    """
    rows = np.asarray(kernel, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1)
    zero = np.all(rows == 0.0, axis=1)
    noise = slice(informative, None)
    return {
        "informative": informative,
        "noise": len(rows) - informative,
        "row_norms": [float(v) for v in norms],
        "row_zero": [bool(v) for v in zero],
        "noise_inputs_zeroed": float(zero[noise].mean()) if zero[noise].size else None,
        "informative_inputs_zeroed": float(zero[:informative].mean()),
        "noise_input_norm_max": float(norms[noise].max()) if zero[noise].size else None,
        "informative_input_norm_min": float(norms[:informative].min()),
    }


def grid_inputs(points: np.ndarray, n_inputs: int) -> np.ndarray:
    """The grid's points (m, 2) as the model's inputs (m, n_inputs): the noise inputs set to 0 (the slice the
    boundary plot shows, the noise inputs' mean)."""
    if n_inputs == points.shape[1]:
        return points
    return np.concatenate([points, np.zeros((len(points), n_inputs - points.shape[1]), points.dtype)], axis=1)


def boundary_complexity(grid: Grid) -> dict[str, float | int | None]:
    """The ``boundary`` block: how complicated the decision boundary is, from the grid the plot draws.

    - ``contour_length``: total length of the p = 0.5 contour inside the plot box (contourpy's marching
      squares on ``grid``) divided by the box's diagonal. A straight boundary from corner to corner is
      1.0; a vertical one is height/diagonal; a circle of radius r is 2πr/diagonal; 0 when one class
      fills the box.
    - ``regions``: the number of separate decision regions: connected components (4-neighbour, grid
      points) of p > 0.5 plus those of p ≤ 0.5. One class everywhere is 1, a single boundary across the
      box 2; islands add one each.
    - ``class1_area_fraction``: the share of grid points with p > 0.5 (the area predicted class 1).

    All ``None`` when the grid holds a non-finite probability (a diverged run).

    Resolution: the contour is a polyline through linear interpolation between grid points, so it
    follows a smooth boundary to O(h²) (h the grid spacing; chords make it slightly shorter: a unit
    circle in the lecture's 5 × 3.5 box comes out 0.001 % short at 300 points per axis, 0.03 % at 60,
    0.09 % at 30) and misses wiggles finer than h, so a finer grid mostly reads a wiggly boundary as
    longer. Islands and necks narrower than a grid cell are missed, so ``regions`` changes with resolution
    too (measured on one very wiggly net: 1.48 and 7 regions at 60 points per axis, 1.66 and 12 at 300).
    Compare runs at the same ``plots.boundary`` box and resolution.
    """
    import contourpy
    from scipy import ndimage

    prob = np.asarray(grid.prob, dtype=np.float64)
    if not np.isfinite(prob).all():
        return {"contour_length": None, "regions": None, "class1_area_fraction": None}
    lines = contourpy.contour_generator(grid.xx, grid.yy, prob, line_type="Separate").lines(0.5)
    length = sum(float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum()) for line in lines)
    diagonal = float(np.hypot(np.ptp(grid.xx), np.ptp(grid.yy)))
    class1 = prob > 0.5
    four_neighbours = ndimage.generate_binary_structure(2, 1)
    regions = sum(int(ndimage.label(mask, structure=four_neighbours)[1]) for mask in (class1, ~class1))
    return {
        "contour_length": length / diagonal,
        "regions": regions,
        "class1_area_fraction": float(class1.mean()),
    }
