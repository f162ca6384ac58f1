"""Decoupled weight decay (``training.weight_decay``, ``optimizer: adamw``): each step, every Dense kernel
becomes ``w − η·wd·w`` (η the learning rate), biases untouched, whatever the optimizer.

This is Keras 3's optimizer ``weight_decay`` (``keras/src/optimizers/base_optimizer.py``,
``_apply_weight_decay``: ``variable.assign(variable - variable * wd * lr)`` with ``lr`` the optimizer's
learning rate), applied where Keras applies it: after the gradient is taken, before the optimizer's update,
so the gradient is the one at the undecayed weights. Keras decays every trainable variable unless told
otherwise; regdemo excludes the biases (the lecture: biases are not regularized). ``AdamW`` is Adam with
this decay (Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019).

**The mapping to Keras' L2 penalty.** ``L2(λ)`` adds ``λ·Σw²`` to the loss, so its gradient adds ``2λ·w``.
Under plain SGD one step with it is ``w − η·(g + 2λ·w) = w − η·2λ·w − η·g``: exactly this decay with
``wd = 2λ``, then the plain step (tested step by step, and over whole runs by ``configs/weight_decay.yaml``).
Under Adam (or RMSprop) the penalty's gradient is divided by Adam's running √v like the rest, so the
two differ: the decay shrinks every weight by the same factor ``1 − η·wd``, the penalty shrinks weights with
small gradients much more.

:func:`decay_step` is what the compiled engine applies inside its graph (:func:`decayed` is the pure update,
for any tensor of weights, stacked ones included); ``engine: fit`` hands the same decay to Keras' own
optimizer (:func:`keras_decay`). With ``wd = 0`` neither does anything.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from regdemo.train.models import dense_layers

# Keras matches these patterns against a variable's name (``re.search``): a Dense layer's bias is "bias".
EXCLUDED = ("bias",)


def decayed(w: tf.Tensor, lr: tf.Tensor, wd: tf.Tensor) -> tf.Tensor:
    """``w − w·wd·lr`` (Keras' own expression and order, so the same float32 result), any shape."""
    return w - w * wd * lr


def decayed_kernels(model: keras.Model) -> list[keras.Variable]:
    """The variables the decay shrinks: every Dense layer's kernel, in layer order (no bias)."""
    return [layer.kernel for layer in dense_layers(model)]


def decay_step(optimizer: keras.optimizers.Optimizer, kernels: list[keras.Variable], wd: float) -> None:
    """One step's decay of ``kernels`` by ``wd`` at ``optimizer``'s learning rate; call it between taking the
    gradient and ``optimizer.apply`` (where Keras' ``_apply_weight_decay`` runs)."""
    for kernel in kernels:
        lr = tf.cast(optimizer.learning_rate, kernel.dtype)
        kernel.assign(decayed(kernel.value, lr, tf.cast(wd, kernel.dtype)))


def keras_decay(optimizer: keras.optimizers.Optimizer, wd: float) -> keras.optimizers.Optimizer:
    """``optimizer`` with Keras' own decoupled decay ``wd`` on every variable but the biases (unchanged when
    ``wd`` is 0); call it before the optimizer is built."""
    if wd:
        optimizer.weight_decay = wd
        optimizer.exclude_from_weight_decay(var_names=list(EXCLUDED))
    return optimizer
