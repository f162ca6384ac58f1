"""The training rows' order in each epoch, for ``training.shuffle``: ``epoch`` (a fresh permutation per
epoch), ``fixed`` (the one permutation ``model.fit(shuffle=True)`` replays), and for ``engine: fit`` the
``epoch`` order as a ``tf.data`` pipeline. Both engines draw their orders here, so for one order they
feed the same batches.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from regdemo.config.schema import TrainingConfig
from regdemo.train.datasets import Split


def epoch_permutation(n: int, seed: int, epoch: tf.Tensor) -> tf.Tensor:
    """Order ``epoch``: the training rows' order (shape (n,), int32) in that epoch, drawn from ``(seed, epoch)``
    alone (stateless), so any engine and any chunking draws the same one."""
    return tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([seed, tf.cast(epoch, tf.int32)])))


_MAXINT32 = 2**31 - 1  # TensorFlow's seed range (tensorflow/python/framework/random_seed.py)


def fit_permutation(n: int, seed: int) -> np.ndarray:
    """Order ``fixed``: the one permutation Keras 3's ``model.fit(shuffle=True)`` replays every epoch once
    ``keras.utils.set_random_seed(seed)`` has been called, shape (n,) int64.

    Keras' TensorFlow data adapter (keras/src/trainers/data_adapters/array_data_adapter.py,
    ``get_tf_dataset``) draws each epoch's order with ``tf.random.shuffle(tf.range(n))`` inside a
    ``tf.data`` map function. That op has no seed of its own, so TensorFlow gives it the seeds
    (global seed, 0): the function's graph takes the global seed, and the op is its graph's first random
    op. Every epoch iterates the dataset afresh, so the op starts again from those seeds and draws the
    same permutation. The same op with the same seeds in a fresh map function draws it here.
    """
    seeds = (seed % _MAXINT32, 0)
    if seeds == (0, 0):  # TensorFlow's own substitution: (0, 0) would mean "unseeded" to the kernel
        seeds = (0, _MAXINT32)

    def permutation(_: tf.Tensor) -> tf.Tensor:
        return tf.raw_ops.RandomShuffle(value=tf.range(n, dtype=tf.int64), seed=seeds[0], seed2=seeds[1])

    return next(iter(tf.data.Dataset.range(1).map(permutation))).numpy()


def reshuffled_batches(data: Split, cfg: TrainingConfig, seed: int) -> tf.data.Dataset:
    """Order ``epoch`` for ``model.fit``: every epoch's batches in a row, epoch e in
    :func:`epoch_permutation`'s order for ``(seed, e)`` (the compiled engine's), last batch smaller.

    One dataset for the whole run, read with ``steps_per_epoch`` = batches per epoch: Keras then keeps
    one iterator across epochs (keras/src/trainers/epoch_iterator.py) instead of restarting it, which
    would replay epoch 0's order.
    """
    x, y = tf.constant(data.x_train), tf.constant(data.y_train[:, None])
    n = len(data.x_train)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(epoch_permutation(n, seed, epoch)).batch(cfg.batch_size)

    batches = tf.data.Dataset.range(cfg.epochs).flat_map(epoch_batches)
    return batches.map(lambda index: (tf.gather(x, index), tf.gather(y, index)))
