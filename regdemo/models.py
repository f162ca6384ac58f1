"""Config → Keras model: Dense layers with the configured ``kernel_regularizer``."""

from __future__ import annotations

import keras
import tensorflow as tf

from regdemo.config import ModelConfig, RegularizerConfig

if keras.backend.backend() != "tensorflow":  # keras was imported before regdemo, with another backend
    raise ImportError(
        f"regdemo needs Keras' TensorFlow backend, but Keras was loaded with {keras.backend.backend()!r}: "
        "set KERAS_BACKEND=tensorflow (or import regdemo before keras)"
    )


def make_regularizer(cfg: RegularizerConfig) -> keras.regularizers.Regularizer | None:
    """The Keras regularizer for ``cfg``: ``L1(l1)`` adds l1·Σ|w|, ``L2(l2)`` adds l2·Σw² (no ½, no 1/n)."""
    l1, l2 = cfg.strengths()
    if cfg.kind == "none":
        return None
    if cfg.kind == "l1":
        return keras.regularizers.L1(l1)
    if cfg.kind == "l2":
        return keras.regularizers.L2(l2)
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def build_model(cfg: ModelConfig) -> keras.Sequential:
    """Input (batch, 2) → Dense(hidden_units…, activation) → Dense(1, sigmoid), output (batch, 1).

    The regularizer goes on the hidden kernels (the lecture's choice) and, with
    ``regularizer.apply_to_output``, on the output kernel too; biases are never regularized.
    Weights are drawn from Keras' global seed: call ``keras.utils.set_random_seed`` first.
    """
    hidden = [
        keras.layers.Dense(
            units, activation=cfg.activation, kernel_regularizer=make_regularizer(cfg.regularizer), name=f"hidden_{i}"
        )
        for i, units in enumerate(cfg.hidden_units)
    ]
    output_reg = make_regularizer(cfg.regularizer) if cfg.regularizer.apply_to_output else None
    output = keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=output_reg, name="output")
    return keras.Sequential([keras.Input((2,)), *hidden, output], name="regdemo_net")


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The model's Dense layers in order (input side first)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def penalty(model: keras.Model) -> tf.Tensor:
    """The model's regularization penalty, summed from its own ``losses`` (0.0 when unregularized)."""
    losses = model.losses
    return tf.add_n(losses) if losses else tf.constant(0.0)
