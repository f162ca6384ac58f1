"""Decoupled weight decay (regdemo.train.decay): step by step against Keras' own optimizers with
``weight_decay`` (and AdamW), the closed form of one step, its mapping to Keras' L2 penalty under SGD (wd = 2λ),
and the compiled engine against ``model.fit``."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_training, initial_weights, train_run
from regdemo.config.schema import ADAMW_DECAY, RunConfig, TrainingConfig
from regdemo.train.decay import decay_step, decayed_kernels, keras_decay
from regdemo.train.models import build_model


def _net(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_model(RunConfig(name="t", experiment="t", model={"hidden_units": [6]}).model)


def _grads(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[tf.Tensor]:
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y, model(x, training=True))
    return tape.gradient(loss, model.trainable_variables)


def _batch(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(12, 2)).astype(np.float32), rng.integers(0, 2, (12, 1)).astype(np.float32)


def _ours(make: type, lr: float, wd: float, steps: int) -> list[np.ndarray]:
    """``steps`` steps of regdemo's order: gradient, decay_step on the kernels, then the optimizer's own update."""
    model, (x, y) = _net(), _batch()
    optimizer = make(learning_rate=lr)
    optimizer.build(model.trainable_variables)
    for _ in range(steps):
        grads = _grads(model, x, y)
        decay_step(optimizer, decayed_kernels(model), wd)
        optimizer.apply(grads, model.trainable_variables)
    return model.get_weights()


def _keras(optimizer: keras.optimizers.Optimizer, steps: int) -> list[np.ndarray]:
    """``steps`` steps of Keras' optimizer with its own ``weight_decay``, biases excluded by name."""
    model, (x, y) = _net(), _batch()
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.build(model.trainable_variables)
    for _ in range(steps):
        optimizer.apply(_grads(model, x, y), model.trainable_variables)
    return model.get_weights()


@pytest.mark.parametrize(
    ("make", "theirs"),
    [
        (keras.optimizers.SGD, lambda: keras.optimizers.SGD(0.1, weight_decay=0.3)),
        (keras.optimizers.Adam, lambda: keras.optimizers.AdamW(0.1, weight_decay=0.3)),
        (keras.optimizers.RMSprop, lambda: keras.optimizers.RMSprop(0.1, weight_decay=0.3)),
    ],
    ids=["sgd", "adamw", "rmsprop"],
)
def test_decay_step_is_keras_weight_decay_step_by_step(make: type, theirs) -> None:
    ours, keras_own = _ours(make, 0.1, 0.3, steps=5), _keras(theirs(), steps=5)
    for a, b in zip(ours, keras_own, strict=True):
        np.testing.assert_array_equal(a, b)  # the same float32 ops in the same order: bit for bit


def test_one_sgd_step_with_decay_is_the_closed_form_and_leaves_biases_alone() -> None:
    lr, wd = 0.1, 0.3
    start, (x, y) = _net().get_weights(), _batch()
    grads = [g.numpy() for g in _grads(_net(), x, y)]
    after = _ours(keras.optimizers.SGD, lr, wd, steps=1)
    for i, (w0, g, w1) in enumerate(zip(start, grads, after, strict=True)):
        decay = wd if i % 2 == 0 else 0.0  # kernel, bias, kernel, bias
        np.testing.assert_allclose(w1, w0 - lr * decay * w0 - lr * g, rtol=1e-6, atol=1e-7)


def test_sgd_with_l2_lambda_is_sgd_with_decay_two_lambda() -> None:
    """Keras' L2(λ) adds λΣw², gradient 2λw: one SGD step with it = the decay wd = 2λ, then the plain step."""
    lam, lr = 0.05, 0.1
    cfg = RunConfig(
        name="t",
        experiment="t",
        model={"hidden_units": [6], "regularizer": {"kind": "l2", "lambda": lam, "apply_to_output": True}},
    )
    keras.utils.set_random_seed(0)
    model, (x, y) = build_model(cfg.model), _batch()
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y, model(x, training=True)) + tf.add_n(model.losses)
    keras.optimizers.SGD(lr).apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    decayed = _ours(keras.optimizers.SGD, lr, 2 * lam, steps=1)
    for a, b in zip(model.get_weights(), decayed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_keras_decay_sets_nothing_without_a_decay() -> None:
    optimizer = keras_decay(keras.optimizers.Adam(0.01), 0.0)
    assert optimizer.weight_decay is None
    assert keras_decay(keras.optimizers.Adam(0.01), 0.2).weight_decay == 0.2


def test_the_decay_a_config_asks_for() -> None:
    assert TrainingConfig().decay() == 0.0
    assert TrainingConfig(optimizer="adamw").decay() == ADAMW_DECAY == 0.004  # Keras' AdamW default
    assert TrainingConfig(optimizer="adamw", weight_decay=0.0).decay() == 0.0
    assert TrainingConfig(optimizer="sgd", weight_decay=0.01).decay() == 0.01


def _cfg(engine: str, optimizer: str, wd: float | None) -> RunConfig:
    return RunConfig(
        name="t",
        experiment="t",
        seed=1,
        dataset={"n_samples": 60, "noise": 0.2, "random_state": 3, "validation_split": 0.3},
        model={"hidden_units": [8, 8]},
        training={
            "engine": engine,
            "optimizer": optimizer,
            "learning_rate": 0.05,
            "weight_decay": wd,
            "epochs": 6,
            "batch_size": 16,
            "shuffle": False,
        },
    )


@pytest.mark.parametrize(("optimizer", "wd"), [("sgd", 0.2), ("adam", 0.2), ("adamw", None)])
def test_compiled_engine_decay_equals_model_fit_with_keras_own_decay(optimizer: str, wd: float | None) -> None:
    fit_cfg, compiled_cfg = _cfg("fit", optimizer, wd), _cfg("compiled", optimizer, wd)
    initial = initial_weights(fit_cfg)
    ours, theirs = train_run(compiled_cfg, initial), train_run(fit_cfg, initial)
    assert_same_training(ours, theirs)
    plain = train_run(_cfg("compiled", "adam" if optimizer == "adamw" else optimizer, 0.0), initial)
    assert not np.allclose(ours[0].get_weights()[0], plain[0].get_weights()[0])  # the decay did something
