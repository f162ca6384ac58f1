"""Proximal L1 and L2-as-weight-decay: single optimizer steps against closed forms computed with numpy."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_training, initial_weights, train_run
from regdemo.config.loading import load_experiment
from regdemo.config.schema import ModelConfig, RunConfig
from regdemo.errors import ConfigError
from regdemo.train import datasets, metrics
from regdemo.train.models import build_model, dense_layers, penalty
from regdemo.train.trainer import train_model

ENGINES = ["compiled", "fit"]


def _cfg(engine="compiled", regularizer=None, optimizer="sgd", lr=0.1, epochs=1, batch_size=64, **model) -> RunConfig:
    """A tiny run; the default batch_size covers all 42 training rows, so one epoch is one optimizer step."""
    return RunConfig(
        name="t",
        experiment="t",
        seed=1,
        dataset={"n_samples": 60, "noise": 0.2, "random_state": 3, "validation_split": 0.3},
        model={"hidden_units": [32], "regularizer": regularizer or {"kind": "none"}, **model},
        training={
            "engine": engine,
            "optimizer": optimizer,
            "learning_rate": lr,
            "epochs": epochs,
            "batch_size": batch_size,
            "shuffle": False,
        },
    )


def _data_gradient(cfg: RunConfig, initial: list[np.ndarray]) -> list[np.ndarray]:
    """Gradient of the mean cross-entropy alone (no penalty) on all training rows, at ``initial``."""
    plain = build_model(ModelConfig(hidden_units=cfg.model.hidden_units, activation=cfg.model.activation))
    plain.set_weights(initial)
    data = datasets.load(cfg.dataset)
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(data.y_train[:, None], plain(data.x_train, training=True))
    return [g.numpy() for g in tape.gradient(loss, plain.trainable_variables)]


def _soft_threshold(w: np.ndarray, tau: np.ndarray | float) -> np.ndarray:
    return np.sign(w) * np.maximum(np.abs(w) - tau, 0.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_sgd_step_with_proximal_l1_is_the_soft_threshold_of_the_plain_step(engine: str) -> None:
    lr, lam = 0.1, 1.5  # τ = 0.15: zeroes some of the hidden kernel's entries, not all
    cfg = _cfg(engine, {"kind": "l1", "lambda": lam, "proximal": True}, lr=lr)
    initial = initial_weights(cfg)
    grads = _data_gradient(cfg, initial)
    model, _, _ = train_run(cfg, initial)
    after = model.get_weights()  # [hidden kernel, hidden bias, output kernel, output bias]
    plain_step = [w - lr * g for w, g in zip(initial, grads, strict=True)]
    expected_kernel = _soft_threshold(plain_step[0], lr * lam)
    assert 0 < np.mean(expected_kernel == 0) < 1
    np.testing.assert_allclose(after[0], expected_kernel, rtol=1e-5, atol=1e-6)
    assert np.array_equal(after[0] == 0, expected_kernel == 0)  # exact zeros, exactly where expected
    for ours, plain in zip(after[1:], plain_step[1:], strict=True):  # bias and output layer: no threshold
        np.testing.assert_allclose(ours, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_sgd_step_with_l2_is_weight_decay_then_the_plain_step(engine: str) -> None:
    """Keras L2(l2) adds l2·Σw², gradient 2·l2·w: SGD decays the kernel by (1 − 2·η·l2), then steps."""
    lr, l2 = 0.1, 0.5  # decay factor 0.9: far outside float tolerance
    cfg = _cfg(engine, {"kind": "l2", "lambda": l2}, lr=lr)
    initial = initial_weights(cfg)
    grads = _data_gradient(cfg, initial)
    model, _, _ = train_run(cfg, initial)
    after = model.get_weights()
    decayed = (1 - 2 * lr * l2) * initial[0] - lr * grads[0]
    np.testing.assert_allclose(after[0], decayed, rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[0], initial[0] - lr * grads[0], atol=1e-3)  # the decay is really there
    for ours, w, g in zip(after[1:], initial[1:], grads[1:], strict=True):
        np.testing.assert_allclose(ours, w - lr * g, rtol=1e-5, atol=1e-6)


def _adaptive_step(optimizer: str, lr: float, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras' first step of Adam / RMSprop (defaults) from zero state: (update per unit gradient, update)."""
    if optimizer == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-7
        m, v = (1 - b1) * g, (1 - b2) * g**2
        alpha = lr * np.sqrt(1 - b2) / (1 - b1)
        return alpha / (np.sqrt(v) + eps), alpha * m / (np.sqrt(v) + eps)
    rho, eps = 0.9, 1e-7
    v = (1 - rho) * g**2
    return lr / np.sqrt(v + eps), lr * g / np.sqrt(v + eps)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_adaptive_proximal_threshold_is_per_coordinate(optimizer: str) -> None:
    """One Adam/RMSprop step: w ← soft_threshold(w − step, λ·(step per unit gradient)), coordinate-wise."""
    lr, lam = 0.01, 0.02
    cfg = _cfg("compiled", {"kind": "l1", "lambda": lam, "proximal": True}, optimizer=optimizer, lr=lr)
    initial = initial_weights(cfg)
    g = _data_gradient(cfg, initial)[0].astype(np.float64)
    scale, update = _adaptive_step(optimizer, lr, g)
    expected = _soft_threshold(initial[0] - update, lam * scale)
    assert 0 < np.mean(expected == 0) < 1
    model, _, _ = train_run(cfg, initial)
    # atol 1e-5: τ ∝ 1/|g| here, so float32 round-off in g (summation order) shows up amplified
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-4, atol=1e-5)
    assert np.array_equal(model.get_weights()[0] == 0, expected == 0)
    # a single global τ = η·λ would not do it: the thresholds really differ per coordinate
    assert np.ptp(lam * scale) > 0.1 * np.max(lam * scale)


@pytest.mark.parametrize(
    ("optimizer", "regularizer"),
    [
        ("sgd", {"kind": "l1", "lambda": 0.02, "proximal": True}),
        ("adam", {"kind": "l1", "lambda": 0.002, "proximal": True}),
        ("adam", {"kind": "l1_l2", "l1": 0.002, "l2": 0.001, "proximal": True}),
    ],
    ids=["sgd-l1", "adam-l1", "adam-l1_l2"],
)
def test_compiled_engine_equals_model_fit_with_proximal_l1(optimizer: str, regularizer: dict) -> None:
    """Same initial weights, no shuffling, several batches per epoch: same weights and history."""
    lr = 0.2 if optimizer == "sgd" else 0.01
    fit_cfg, compiled_cfg = (
        _cfg(engine, regularizer, optimizer=optimizer, lr=lr, epochs=6, batch_size=16, hidden_units=[16, 16])
        for engine in ENGINES[::-1]
    )
    initial = initial_weights(fit_cfg)
    fit_run, our_run = train_run(fit_cfg, initial), train_run(compiled_cfg, initial)
    assert_same_training(our_run, fit_run)
    our_model = our_run[0]
    assert np.mean(our_model.get_weights()[0] == 0) > 0.05  # the threshold acted, in both


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("regularizer", "l1", "l2"),
    [
        ({"kind": "l1", "lambda": 0.05, "proximal": True}, 0.05, 0.0),
        ({"kind": "l1_l2", "l1": 0.05, "l2": 0.03, "proximal": True}, 0.05, 0.03),
    ],
    ids=["l1", "l1_l2"],
)
def test_proximal_penalty_is_reported_in_full(engine: str, regularizer: dict, l1: float, l2: float) -> None:
    """History and final metrics report l1·Σ|w| + l2·Σw², though only the L2 part is a Keras loss."""
    cfg = _cfg(engine, regularizer, optimizer="adam", lr=0.01, hidden_units=[8, 8])
    initial = initial_weights(cfg)

    def by_hand(weights: list[np.ndarray]) -> float:
        kernels = [weights[0].astype(np.float64), weights[2].astype(np.float64)]  # hidden kernels only
        return sum(l1 * np.abs(k).sum() + l2 * np.square(k).sum() for k in kernels)

    model, data, hist = train_run(cfg, initial)
    # one epoch = one step: the train-side penalty is that of the weights the step started from
    assert hist.columns["penalty"][0] == pytest.approx(by_hand(initial), rel=1e-5)
    assert hist.columns["loss"][0] == pytest.approx(hist.columns["data_loss"][0] + by_hand(initial), rel=1e-5)
    final = metrics.final_metrics(model, data)
    assert final["penalty"] == pytest.approx(by_hand(model.get_weights()), rel=1e-5)
    assert hist.columns["val_loss"][0] == pytest.approx(final["val_data_loss"] + final["penalty"], rel=1e-5)
    # no double counting: the model's own losses (what the gradient follows) hold only the L2 part
    keras_losses = sum(float(x) for x in model.losses)
    l2_only = sum(l2 * np.square(model.get_weights()[i].astype(np.float64)).sum() for i in (0, 2))
    assert keras_losses == pytest.approx(l2_only, rel=1e-5, abs=1e-12)
    assert float(penalty(model)) == pytest.approx(by_hand(model.get_weights()), rel=1e-5)


def _lecture(proximal: bool, epochs: int) -> RunConfig:
    return RunConfig(
        name="lecture",
        experiment="t",
        seed=2,
        dataset={"n_samples": 100, "noise": 0.25, "random_state": 2, "validation_split": 0.2},
        model={"hidden_units": [128, 128], "regularizer": {"kind": "l1", "lambda": 0.001, "proximal": proximal}},
        training={"optimizer": "adam", "learning_rate": 0.01, "epochs": epochs, "batch_size": 32},
    )


def test_lecture_settings_subgradient_l1_leaves_no_zeros_proximal_l1_zeroes_most() -> None:
    """The lecture's net, Adam(0.01), L1(0.001), 300 epochs (not 2000, to stay fast), compiled engine.

    Measured here at 300 epochs: subgradient 0.0 % exactly zero in the first layer (59.8 % below 1e-3),
    train accuracy 0.963; proximal 93.8 % exactly zero, train accuracy 0.950. At 2000 epochs: 0.0 % vs
    95.3 %, train accuracy 0.963 vs 0.988.
    """
    zeros, accuracy = {}, {}
    for proximal in (False, True):
        cfg = _lecture(proximal, epochs=300)
        keras.utils.set_random_seed(cfg.seed)
        data = datasets.load(cfg.dataset)
        model = build_model(cfg.model)
        train_model(cfg, model, data)
        zeros[proximal] = float(np.mean(dense_layers(model)[0].kernel.numpy() == 0.0))
        accuracy[proximal] = metrics.final_metrics(model, data)["accuracy"]
    assert zeros[False] < 0.01
    assert zeros[True] > 0.8
    assert accuracy[True] >= 0.9


@pytest.mark.parametrize("kind", ["none", "l2"])
def test_proximal_needs_an_l1_part(write_config, kind: str) -> None:
    path = write_config(f"name: x\nmodel:\n  regularizer: {{kind: {kind}, lambda: 0.1, proximal: true}}\n")
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert str(err.value) == (
        f"{path}:3: model.regularizer.proximal: only for kind l1 or l1_l2 (it applies the L1 part); "
        f"kind is {kind} (got true)"
    )
