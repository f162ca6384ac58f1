"""Proximal L1 (``regularizer.proximal``): after every optimizer step each L1-regularized kernel is
soft-thresholded by λ_l1 × the step the optimizer just took per unit gradient (proximal gradient, ISTA;
the diagonally scaled step for Adam and RMSprop). ``model.fit`` applies :func:`proximal_step` through
:class:`ProximalL1`; the compiled engine the same rule on stacked weights (:mod:`regdemo.train.packedopt`).

``proximal: rows`` thresholds the first kernel's rows instead, whole (:func:`row_soft_threshold`, the
proximal operator of the group-lasso term τ·‖w_row‖₂): a row whose norm is at most τ becomes exactly zero,
the others shrink toward 0 along their own direction. A row of the first kernel is one input, so an input
is dropped whole (feature selection; elementwise L1 zeroes weights, rarely a whole row). τ = λ × the row's
step per unit gradient: under SGD η (exact proximal gradient); under Adam and RMSprop the step of a row
whose weights share one second moment, the mean of their ``v`` (the group prox has no closed form in a
per-weight metric; one scalar per row from the row's mean ``v``, as Adafactor's row-factored moments do).
A row the loss barely uses has a small ``v`` and so a large τ: it goes first.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from regdemo.train.models import proximal_kernels, proximal_penalty

Kernels = list[tuple[keras.Variable, float, bool]]  # (kernel, λ_l1, rows), as models.proximal_kernels


def step_size(optimizer: keras.optimizers.Optimizer, variable: keras.Variable, rows: bool = False) -> tf.Tensor:
    """The step ``optimizer.apply`` just took on ``variable`` per unit gradient: a scalar or ``variable``'s shape
    (with ``rows``, (rows, 1): each row's step with the row's mean second moment in place of each weight's).

    Read off Keras 3's update rules (keras/src/optimizers/{sgd,adam,rmsprop}.py, Keras defaults), after
    ``apply`` has counted the step (``iterations`` = t):

    - SGD:     w −= η·g                                        → η
    - Adam:    w −= α_t·m/(√v + ε), α_t = η·√(1 − β2^t)/(1 − β1^t)  → α_t/(√v + ε)
    - RMSprop: w −= η·g/√(v + ε)                               → η/√(v + ε)
    """
    dtype = variable.dtype
    lr = tf.cast(optimizer.learning_rate, dtype)
    if isinstance(optimizer, keras.optimizers.SGD) and not optimizer.momentum:
        return lr
    if isinstance(optimizer, keras.optimizers.Adam) and not optimizer.amsgrad:
        v = _second_moment(optimizer, variable, rows)
        t = tf.cast(optimizer.iterations, dtype)
        beta_1_power = tf.pow(tf.cast(optimizer.beta_1, dtype), t)
        beta_2_power = tf.pow(tf.cast(optimizer.beta_2, dtype), t)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        return alpha / (tf.sqrt(v) + optimizer.epsilon)
    if isinstance(optimizer, keras.optimizers.RMSprop) and not (optimizer.momentum or optimizer.centered):
        # Private, as above (keras/src/optimizers/rmsprop.py).
        return lr / tf.sqrt(_second_moment(optimizer, variable, rows) + optimizer.epsilon)
    raise NotImplementedError(f"proximal L1 has no step-size rule for {optimizer.get_config()}")


def _second_moment(optimizer: keras.optimizers.Optimizer, variable: keras.Variable, rows: bool) -> tf.Tensor:
    """Adam's or RMSprop's running second moment ``v`` of ``variable`` (its shape), or each row's mean (rows, 1)."""
    # Private: Keras has no public accessor for an optimizer's per-variable slots (keras/src/optimizers/adam.py,
    # rmsprop.py: both keep ``_velocities``).
    v = optimizer._velocities[optimizer._get_variable_index(variable)]
    return tf.reduce_mean(v, axis=1, keepdims=True) if rows else v


def soft_threshold(w: tf.Tensor, tau: tf.Tensor) -> tf.Tensor:
    """The proximal operator of τ·|w|, elementwise: sign(w)·max(|w| − τ, 0); ``tau`` broadcasts to w's shape."""
    return tf.sign(w) * tf.maximum(tf.abs(w) - tau, 0.0)


def row_soft_threshold(w: tf.Tensor, tau: tf.Tensor) -> tf.Tensor:
    """The proximal operator of τ·Σ_rows‖w_row‖₂ (group soft-threshold): each row w_row·max(1 − τ/‖w_row‖, 0);
    ``w`` (rows, cols), ``tau`` a scalar or (rows, 1). A row of norm ≤ τ becomes exactly zero."""
    norms = tf.norm(w, axis=1, keepdims=True)
    # a zero row stays zero: its (floored) norm only keeps the division finite
    return w * tf.maximum(1.0 - tau / tf.maximum(norms, 1e-30), 0.0)


def proximal_step(optimizer: keras.optimizers.Optimizer, kernels: Kernels) -> None:
    """After ``optimizer.apply``: soft-threshold each kernel with τ = step_size·λ_l1 (proximal gradient, ISTA).

    For Adam and RMSprop τ is per coordinate: the diagonally scaled proximal step of the step the
    optimizer actually took. A ``rows`` kernel is thresholded row by row (:func:`row_soft_threshold`) with
    τ = λ_l1 × the row's step (see the module docstring).
    """
    for kernel, l1, rows in kernels:
        threshold = row_soft_threshold if rows else soft_threshold
        kernel.assign(threshold(kernel.value, l1 * step_size(optimizer, kernel, rows)))


class ProximalL1(keras.callbacks.Callback):
    """``fit``'s proximal L1: soft-threshold after every optimizer step and put λΣ|w| back into the logs.

    The L1 term is not in the model's losses (it must not reach the gradient), so Keras' ``loss`` and
    ``val_loss`` lack it: on each epoch's end this adds the batch-weighted mean of the pre-step
    λΣ|w| to ``loss`` (as Keras' running mean does) and the end-of-epoch λΣ|w| to ``val_loss``.
    Put it first in the callback list: later callbacks (EarlyStopping, History) see the logs it completes.
    """

    def __init__(self, n_train: int, batch_size: int) -> None:
        super().__init__()
        self._n, self._batch = n_train, batch_size
        self._sum, self._count = 0.0, 0
        self._step: Callable[[], None] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        kernels, optimizer = proximal_kernels(self.model), self.model.optimizer
        self._step = tf.function(lambda: proximal_step(optimizer, kernels))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._sum, self._count = 0.0, 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        size = min(self._batch, self._n - batch * self._batch)  # fit's batches: in order, the last one smaller
        self._sum += float(proximal_penalty(self.model)) * size
        self._count += size

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs["loss"] += self._sum / self._count
        if "val_loss" in logs:
            logs["val_loss"] += float(proximal_penalty(self.model))
