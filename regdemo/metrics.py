"""Trained model + data → numbers: final losses, the generalization gap, weight stats, the boundary grid.

Everything the plots and the report show is computed here; they only draw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from regdemo.config import BoundaryPlotConfig
from regdemo.datasets import Split

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


def plot_box(cfg: BoundaryPlotConfig, x: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The plot box: the configured limits, or the data's range (x of shape (n, 2)) widened by 1 each side."""
    auto = [(float(x[:, i].min()) - 1.0, float(x[:, i].max()) + 1.0) for i in (0, 1)]
    return tuple(cfg.xlim) if cfg.xlim else auto[0], tuple(cfg.ylim) if cfg.ylim else auto[1]


def boundary_grid(model: keras.Model, cfg: BoundaryPlotConfig, x: np.ndarray) -> Grid:
    """P(class 1) over the plot box, from ONE call of the model on all resolution² points.

    ``x`` (n, 2) are the data's points, used for the box when ``cfg`` sets no limits.
    (``model.predict`` would rebuild its data pipeline and batch by 32: ~2800 steps for 90k points.)
    """
    xlim, ylim = plot_box(cfg, x)
    xs = np.linspace(*xlim, cfg.resolution, dtype=np.float32)
    ys = np.linspace(*ylim, cfg.resolution, dtype=np.float32)
    xx, yy = np.meshgrid(xs, ys)
    points = np.c_[xx.ravel(), yy.ravel()]
    prob = model(points, training=False).numpy().reshape(xx.shape)
    return Grid(xx, yy, prob.astype(np.float64))


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss (with penalty), data loss, penalty and accuracy on ``x`` (n, 2), ``y`` (n,), whole set at once."""
    import keras

    from regdemo.models import penalty

    prob = model(x, training=False)
    data_loss = float(keras.losses.BinaryCrossentropy()(y[:, None], prob))
    pen = float(penalty(model))
    accuracy = float(np.mean((prob.numpy()[:, 0] > 0.5) == (y > 0.5)))
    return {"loss": data_loss + pen, "data_loss": data_loss, "penalty": pen, "accuracy": accuracy}


def final_metrics(model: keras.Model, data: Split) -> dict[str, float]:
    """The ``final`` block of metrics.json: train and validation with the final weights."""
    train = evaluate(model, data.x_train, data.y_train)
    val = evaluate(model, data.x_val, data.y_val)
    return {
        "loss": train["loss"],
        "val_loss": val["loss"],
        "data_loss": train["data_loss"],
        "val_data_loss": val["data_loss"],
        "penalty": train["penalty"],
        "accuracy": train["accuracy"],
        "val_accuracy": val["accuracy"],
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
    from regdemo.models import dense_layers

    return [(layer.name, layer.kernel.numpy()) for layer in dense_layers(model)]


def weights_summary(model: keras.Model, near_zero_tol: float) -> dict:
    """The ``weights`` block: stats over all kernel values, then per Dense layer (biases excluded)."""
    named = kernels(model)
    layers = [{"name": name, "shape": list(k.shape), **weight_stats(k, near_zero_tol)} for name, k in named]
    everything = np.concatenate([k.ravel() for _, k in named])
    return {"kernels": weight_stats(everything, near_zero_tol), "layers": layers}
