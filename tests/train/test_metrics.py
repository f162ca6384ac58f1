"""Metrics: weight statistics and the decision grid, checked against hand computations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from regdemo.config.schema import BoundaryPlotConfig, ModelConfig
from regdemo.train.metrics import boundary_grid, weight_stats, weights_summary
from regdemo.train.models import build_model


def test_weight_stats_by_hand() -> None:
    stats = weight_stats(np.array([[0.0, 0.0005], [-2.0, 1.0]]), near_zero_tol=1e-3)
    assert stats["count"] == 4
    assert (stats["min"], stats["max"]) == (-2.0, 1.0)
    assert stats["mean"] == pytest.approx(-0.999_5 / 4)
    assert stats["l1"] == pytest.approx(3.0005) and stats["l2"] == pytest.approx(5.000_000_25)
    assert stats["std"] == pytest.approx(np.std([0.0, 0.0005, -2.0, 1.0]))
    assert stats["frac_zero"] == 0.25 and stats["frac_near_zero"] == 0.5 and stats["near_zero_tol"] == 1e-3


def test_weights_summary_covers_every_dense_kernel_and_no_bias() -> None:
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(hidden_units=[6, 4]))
    summary = weights_summary(model, 1e-3)
    assert [(layer["name"], layer["shape"]) for layer in summary["layers"]] == [
        ("hidden_0", [2, 6]),
        ("hidden_1", [6, 4]),
        ("output", [4, 1]),
    ]
    assert summary["kernels"]["count"] == 12 + 24 + 4
    assert summary["kernels"]["l1"] == pytest.approx(sum(layer["l1"] for layer in summary["layers"]))


def test_boundary_grid_is_the_model_on_the_plot_box() -> None:
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(hidden_units=[8]))
    cfg = BoundaryPlotConfig(xlim=[-2.0, 3.0], ylim=[-1.5, 2.0], resolution=31)
    grid = boundary_grid(model, cfg, np.zeros((1, 2), dtype=np.float32))
    assert grid.xx.shape == grid.yy.shape == grid.prob.shape == (31, 31)
    assert (grid.xx[0, 0], grid.xx[0, -1], grid.yy[0, 0], grid.yy[-1, 0]) == (-2.0, 3.0, -1.5, 2.0)
    assert np.all((grid.prob >= 0) & (grid.prob <= 1))
    corners = np.array([[-2.0, -1.5], [3.0, 2.0]], dtype=np.float32)
    expected = model(corners).numpy().ravel()
    np.testing.assert_allclose([grid.prob[0, 0], grid.prob[-1, -1]], expected, rtol=1e-6)


def test_without_limits_the_box_is_the_data_range_plus_one() -> None:
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(hidden_units=[4]))
    x = np.array([[0.0, -1.0], [2.0, 0.5], [1.0, 3.0]], dtype=np.float32)
    grid = boundary_grid(model, BoundaryPlotConfig(resolution=5), x)
    assert (grid.xx.min(), grid.xx.max(), grid.yy.min(), grid.yy.max()) == (-1.0, 3.0, -2.0, 4.0)
