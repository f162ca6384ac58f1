"""The packed engine's update rules on stacked weights (N, …): Keras 3's optimizers written out elementwise
(:func:`optimizer_step`) and the proximal L1 step (:func:`proximal_step`, :mod:`regdemo.train.proximal`'s
rule), so that each run's update is the one it would get alone.
"""

from __future__ import annotations

import tensorflow as tf

# Keras 3's defaults (keras/src/optimizers/adam.py, rmsprop.py), those of make_optimizer's optimizers.
ADAM_BETA_1, ADAM_BETA_2, EPSILON, RMSPROP_RHO = 0.9, 0.999, 1e-7, 0.9
# The optimizer slots each variable keeps: Adam's m and v, RMSprop's v, SGD (no momentum) none.
SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 0}  # adamw: Adam, with its decay


def optimizer_step(kind: str, step: tf.Tensor, lr: tf.Tensor, grad: tf.Tensor, weight: tf.Tensor, slots: list) -> list:
    """One optimizer update of one stacked weight → [new weight, *new slots], Keras 3's ``update_step`` written
    out elementwise, expression for expression (keras/src/optimizers/adam.py, rmsprop.py, sgd.py at Keras'
    defaults), so each run's update is the one Keras would make on its own weights.

    ``step`` is the optimizer's ``iterations + 1`` (float32 scalar), ``lr`` (N, 1, 1), ``grad`` and
    ``weight`` (N, …), ``slots`` :data:`SLOTS`[kind] tensors of weight's shape.
    """
    if kind == "sgd":
        return [weight - grad * lr]
    if kind == "rmsprop":  # Keras' RMSprop at its defaults: no momentum, not centered
        (velocity,) = slots
        velocity = RMSPROP_RHO * velocity + (1 - RMSPROP_RHO) * tf.square(grad)
        return [weight - (lr * grad) / tf.sqrt(velocity + EPSILON), velocity]
    m, v = slots
    beta_1_power = tf.pow(tf.constant(ADAM_BETA_1), step)
    beta_2_power = tf.pow(tf.constant(ADAM_BETA_2), step)
    alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    m = m + (grad - m) * (1 - ADAM_BETA_1)
    v = v + (tf.square(grad) - v) * (1 - ADAM_BETA_2)
    return [weight - (m * alpha) / (tf.sqrt(v) + EPSILON), m, v]


def step_size(kind: str, step: tf.Tensor, lr: tf.Tensor, slots: list, rows: bool = False) -> tf.Tensor:
    """The step just taken per unit gradient, :func:`regdemo.train.proximal.step_size`'s expressions: ``lr``
    (N, 1, 1) for SGD, ``α_t/(√v + ε)`` for Adam, ``lr/√(v + ε)`` for RMSprop, with ``slots`` after the update
    and ``step`` the step count t; with ``rows`` each row's mean ``v`` (N, rows, 1)."""
    if kind == "sgd":
        return lr
    v = slots[-1]  # Adam's [m, v], RMSprop's [v]
    v = tf.reduce_mean(v, axis=-1, keepdims=True) if rows else v
    if kind == "rmsprop":
        return lr / tf.sqrt(v + EPSILON)
    beta_1_power = tf.pow(tf.constant(ADAM_BETA_1), step)
    beta_2_power = tf.pow(tf.constant(ADAM_BETA_2), step)
    alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    return alpha / (tf.sqrt(v) + EPSILON)


def proximal_step(kind: str, step: tf.Tensor, lr: tf.Tensor, l1: tf.Tensor, updated: list, rows: bool) -> tf.Tensor:
    """A kernel's soft threshold after its update (``updated``: [weight, *slots] from :func:`optimizer_step`)
    with τ = λ_l1 (N, 1, 1) × :func:`step_size`: elementwise, or with ``rows`` each row whole (the group
    soft threshold of :func:`regdemo.train.proximal.row_soft_threshold`) → the new weight."""
    weight, slots = updated[0], updated[1:]
    tau = l1 * step_size(kind, step, lr, slots, rows)
    if not rows:
        return tf.sign(weight) * tf.maximum(tf.abs(weight) - tau, 0.0)
    norms = tf.norm(weight, axis=-1, keepdims=True)
    return weight * tf.maximum(1.0 - tau / tf.maximum(norms, 1e-30), 0.0)
