"""Config → Keras model: Dense layers with the configured ``kernel_regularizer`` (and Dropout), and its penalty.

With ``regularizer.proximal`` the L1 part is not a Keras regularizer: the training engines apply it as a
soft-threshold after each optimizer step (:func:`proximal_kernels` says which kernels and λ), and
:func:`penalty` still reports it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from regdemo.config.schema import ModelConfig, RegularizerConfig

if keras.backend.backend() != "tensorflow":  # keras was imported before regdemo, with another backend
    raise ImportError(
        f"regdemo needs Keras' TensorFlow backend, but Keras was loaded with {keras.backend.backend()!r}: "
        "set KERAS_BACKEND=tensorflow (or import regdemo before keras)"
    )


# Attribute set on a Dense layer whose kernel the proximal step soft-thresholds: its λ_l1; and, with
# ``proximal: rows``, the second one (True: the kernel's rows are thresholded whole).
PROXIMAL_ATTR = "regdemo_proximal_l1"
PROXIMAL_ROWS_ATTR = "regdemo_proximal_rows"


def make_regularizer(cfg: RegularizerConfig) -> keras.regularizers.Regularizer | None:
    """The Keras regularizer for ``cfg``: ``L1(l1)`` adds l1·Σ|w|, ``L2(l2)`` adds l2·Σw² (no ½, no 1/n).

    With ``cfg.proximal`` only the L2 part (if any) is a regularizer: the L1 part must not also reach
    the gradient, since the proximal step applies it.
    """
    l1, l2 = cfg.strengths()
    if cfg.kind == "none" or (cfg.proximal and cfg.kind == "l1"):
        return None
    if cfg.proximal:  # l1_l2
        return keras.regularizers.L2(l2)
    if cfg.kind == "l1":
        return keras.regularizers.L1(l1)
    if cfg.kind == "l2":
        return keras.regularizers.L2(l2)
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def build_model(cfg: ModelConfig, n_inputs: int = 2) -> keras.Sequential:
    """Input (batch, n_inputs) → [Dense(units, activation) → Dropout?]… → Dense(1, sigmoid), output (batch, 1).

    ``n_inputs``: the point's 2 coordinates plus any noise inputs (:attr:`regdemo.train.datasets.Split.n_inputs`).

    The regularizer goes on the hidden kernels (the lecture's choice) and, with
    ``regularizer.apply_to_output``, on the output kernel too; biases are never regularized. With
    ``proximal: rows`` the L1 part is on the first Dense kernel alone, row by row (one row per input).
    ``dropout > 0`` puts a Dropout layer after each hidden Dense layer (active only with ``training=True``).
    Weights and dropout masks are drawn from Keras' global seed: call ``keras.utils.set_random_seed`` first.
    """
    reg = cfg.regularizer
    layers: list[keras.layers.Layer] = []
    for i, units in enumerate(cfg.hidden_units):
        layers.append(
            keras.layers.Dense(
                units, activation=cfg.activation, kernel_regularizer=make_regularizer(reg), name=f"hidden_{i}"
            )
        )
        if cfg.dropout > 0:
            layers.append(keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}"))
    output_reg = make_regularizer(reg) if reg.apply_to_output else None
    output = keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=output_reg, name="output")
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    # proximal L1 on the regularized kernels; proximal: rows on the first kernel alone (its rows are the inputs)
    thresholded = [*dense, output][:1] if reg.proximal == "rows" else dense + ([output] if reg.apply_to_output else [])
    for layer in thresholded:
        _mark_proximal(layer, reg)
    return keras.Sequential([keras.Input((n_inputs,)), *layers, output], name="regdemo_net")


def _mark_proximal(layer: keras.layers.Dense, cfg: RegularizerConfig) -> None:
    """Record on ``layer`` the λ_l1 its kernel is soft-thresholded with (nothing unless ``cfg.proximal``)."""
    if cfg.proximal:
        setattr(layer, PROXIMAL_ATTR, cfg.strengths()[0])
        setattr(layer, PROXIMAL_ROWS_ATTR, cfg.proximal == "rows")


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The model's Dense layers in order (input side first)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def proximal_kernels(model: keras.Model) -> list[tuple[keras.Variable, float, bool]]:
    """``(kernel, λ_l1, rows)`` for each kernel the proximal step soft-thresholds (``rows``: row by row, for
    ``proximal: rows``); empty unless proximal L1."""
    return [
        (layer.kernel, getattr(layer, PROXIMAL_ATTR), getattr(layer, PROXIMAL_ROWS_ATTR, False))
        for layer in dense_layers(model)
        if hasattr(layer, PROXIMAL_ATTR)
    ]


def proximal_penalty(model: keras.Model) -> tf.Tensor:
    """The proximal L1 term over :func:`proximal_kernels`, as a value only (no gradient flows): λ·Σ|w|, or
    for ``proximal: rows`` λ·Σ_rows ‖w_row‖₂ (the L1 norm of the rows' L2 norms).

    ``stop_gradient`` because the proximal step, not the gradient, applies this term: a tape that
    differentiates :func:`penalty` must not count it twice.
    """
    terms = []
    for kernel, l1, rows in proximal_kernels(model):
        w = tf.stop_gradient(kernel)
        terms.append(l1 * tf.reduce_sum(tf.norm(w, axis=1) if rows else tf.abs(w)))
    return tf.add_n(terms) if terms else tf.constant(0.0)


def penalty(model: keras.Model) -> tf.Tensor:
    """The model's full regularization penalty: its own ``losses`` plus the proximal L1 term (0.0 when none).

    Keras' formula in every mode: l1·Σ|w| + l2·Σw² over the regularized kernels.
    """
    terms = [*model.losses, *([proximal_penalty(model)] if proximal_kernels(model) else [])]
    return tf.add_n(terms) if terms else tf.constant(0.0)
