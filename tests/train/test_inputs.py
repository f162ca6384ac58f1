"""Feature selection: the noise inputs, each input's row of the first kernel (metrics.json's inputs block), the
row-wise proximal step (proximal: rows) against its closed form, and the boundary plot's slice."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_training, initial_weights, train_run
from regdemo.config.schema import ModelConfig, RunConfig
from regdemo.draw import plots
from regdemo.train import datasets, metrics
from regdemo.train.models import build_model, penalty
from regdemo.train.proximal import row_soft_threshold


def test_input_selection_reads_each_inputs_row() -> None:
    kernel = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    block = metrics.input_selection(kernel)
    assert block["row_norms"] == [5.0, 0.5, 0.0, 1.0, 0.0]
    assert block["row_zero"] == [False, False, True, False, True]
    assert (block["informative"], block["noise"]) == (2, 3)
    assert block["noise_inputs_zeroed"] == pytest.approx(2 / 3) and block["informative_inputs_zeroed"] == 0.0
    assert block["noise_input_norm_max"] == 1.0 and block["informative_input_norm_min"] == 0.5
    plain = metrics.input_selection(kernel[:2])
    assert plain["noise_inputs_zeroed"] is None and plain["noise_input_norm_max"] is None


def test_row_soft_threshold_is_the_group_proximal_operator() -> None:
    w = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0], [-6.0, 8.0]], dtype=np.float32)
    out = row_soft_threshold(tf.constant(w), tf.constant(1.0)).numpy()
    np.testing.assert_allclose(out[0], w[0] * (1 - 1 / 5))  # norm 5: shrunk by 1 along itself
    np.testing.assert_array_equal(out[1:3], 0.0)  # norms 0.5 and 0 ≤ 1: exactly zero
    np.testing.assert_allclose(out[3], w[3] * 0.9)
    per_row = row_soft_threshold(tf.constant(w), tf.constant([[6.0], [0.1], [1.0], [1.0]])).numpy()
    np.testing.assert_array_equal(per_row[0], 0.0)
    np.testing.assert_allclose(per_row[1], w[1] * 0.8, rtol=1e-6)


def _cfg(engine: str = "compiled", lam: float = 11.0, optimizer: str = "sgd") -> RunConfig:
    """One full-batch step on 42 rows with 3 noise inputs; L1 over the first kernel's rows."""
    return RunConfig(
        name="t",
        experiment="t",
        seed=1,
        dataset={"n_samples": 60, "noise": 0.2, "random_state": 3, "validation_split": 0.3, "noise_features": 3},
        model={"hidden_units": [16, 8], "regularizer": {"kind": "l1", "lambda": lam, "proximal": "rows"}},
        training={
            "engine": engine,
            "optimizer": optimizer,
            "learning_rate": 0.1,
            "epochs": 1,
            "batch_size": 64,
            "shuffle": False,
        },
    )


@pytest.mark.parametrize("engine", ["compiled", "fit"])
def test_one_sgd_step_with_proximal_rows_thresholds_the_first_kernels_rows_only(engine: str) -> None:
    cfg = _cfg(engine)
    initial = initial_weights(cfg)
    data = datasets.load(cfg.dataset)
    plain = build_model(ModelConfig(hidden_units=cfg.model.hidden_units), data.n_inputs)
    plain.set_weights(initial)
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(data.y_train[:, None], plain(data.x_train, training=True))
    grads = [g.numpy() for g in tape.gradient(loss, plain.trainable_variables)]
    stepped = [w - 0.1 * g for w, g in zip(initial, grads, strict=True)]
    after = train_run(cfg, initial)[0].get_weights()
    first = stepped[0]
    norms = np.linalg.norm(first, axis=1, keepdims=True)
    expected = first * np.maximum(1 - 0.1 * 11.0 / norms, 0)  # τ = η·λ = 1.1
    assert 0 < (norms[:, 0] <= 1.1).sum() < len(norms)  # some rows are zeroed, not all
    np.testing.assert_allclose(after[0], expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(after[1:], stepped[1:], strict=True):  # the other kernels and every bias: the plain step
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_proximal_rows_reports_the_group_penalty_and_both_engines_agree() -> None:
    cfg = _cfg(lam=0.05, optimizer="adam").model_copy(
        update={
            "training": _cfg().training.model_copy(
                update={"optimizer": "adam", "learning_rate": 0.05, "epochs": 4, "batch_size": 16}
            )
        }
    )
    initial = initial_weights(cfg)
    ours = train_run(cfg, initial)
    theirs = train_run(cfg.model_copy(update={"training": cfg.training.model_copy(update={"engine": "fit"})}), initial)
    # XLA's last bits are not Keras' kernels', and the group threshold (λ·lr large here) magnifies them
    assert_same_training(ours, theirs, weights=(1e-4, 1e-5))
    kernel = ours[0].get_weights()[0].astype(np.float64)
    assert float(penalty(ours[0])) == pytest.approx(0.05 * np.linalg.norm(kernel, axis=1).sum(), rel=1e-5)


def test_the_boundary_grid_is_the_slice_where_the_noise_inputs_are_zero() -> None:
    cfg = _cfg()
    keras.utils.set_random_seed(0)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model, data.n_inputs)
    grid = metrics.boundary_grid(model, cfg.plots.boundary.model_copy(update={"resolution": 5}), data.x_all)
    points = np.c_[grid.xx.ravel(), grid.yy.ravel(), np.zeros((25, 3))].astype(np.float32)
    np.testing.assert_allclose(grid.prob.ravel(), model(points).numpy()[:, 0], rtol=1e-6)
    ax = plots.plot_boundary(grid, data, "t")
    assert "slice where the 3 noise inputs are 0" in [t.get_text() for t in ax.texts]
    plain = datasets.load(cfg.dataset.model_copy(update={"noise_features": 0}))
    assert not plots.plot_boundary(grid, plain, "t").texts  # two inputs: no note
