"""The penalty is exactly Keras' formula over exactly the regularized kernels (never biases)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from regdemo.config.schema import ModelConfig
from regdemo.train.models import build_model, dense_layers, penalty


def _model(regularizer: dict, hidden=(5, 4)) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(hidden_units=list(hidden), regularizer=regularizer))
    for layer in dense_layers(model):  # biases far from zero: they must not count
        layer.bias.assign(np.full(layer.bias.shape, 3.0, dtype="float32"))
    return model


def _by_hand(model: keras.Model, l1: float, l2: float, include_output: bool) -> float:
    layers = dense_layers(model) if include_output else dense_layers(model)[:-1]
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in layers]
    return sum(l1 * np.abs(k).sum() + l2 * np.square(k).sum() for k in kernels)


@pytest.mark.parametrize(
    ("regularizer", "l1", "l2"),
    [
        ({"kind": "l1", "lambda": 0.003}, 0.003, 0.0),
        ({"kind": "l2", "lambda": 0.003}, 0.0, 0.003),
        ({"kind": "l1_l2", "l1": 0.002, "l2": 0.005}, 0.002, 0.005),
    ],
)
@pytest.mark.parametrize("include_output", [False, True])
def test_penalty_is_lambda_times_sum_over_regularized_kernels(regularizer, l1, l2, include_output) -> None:
    model = _model({**regularizer, "apply_to_output": include_output})
    expected = _by_hand(model, l1, l2, include_output)
    assert expected > 0
    assert float(penalty(model)) == pytest.approx(expected, rel=1e-6)
    # and it is not the other variant: the output kernel is in or out as configured
    assert float(penalty(model)) != pytest.approx(_by_hand(model, l1, l2, not include_output), rel=1e-6)


def test_no_regularizer_means_no_penalty_at_all() -> None:
    model = _model({"kind": "none", "lambda": 0.5})
    assert model.losses == [] and float(penalty(model)) == 0.0


def test_architecture_follows_the_config() -> None:
    model = _model({"kind": "l2", "lambda": 0.1}, hidden=(7, 3))
    shapes = [tuple(layer.kernel.shape) for layer in dense_layers(model)]
    assert shapes == [(2, 7), (7, 3), (3, 1)]
    assert model(np.zeros((4, 2), dtype="float32")).shape == (4, 1)
