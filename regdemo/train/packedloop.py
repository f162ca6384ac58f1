"""The packed engine's graph (issue 17): N runs of one shape trained by one compiled ``tf.function`` over
stacked variables, every weight of shape (N, …), so that each run's arithmetic is its own.

Read top-down: :meth:`PackedLoop.run_epochs` (a graph loop over epochs) → :meth:`PackedLoop.run_epoch` (each
run's order, the batches, validation → one row per run) → :meth:`PackedLoop.train_batch` (the forward pass
with batched matmuls, the penalty, the gradient, one optimizer step per run). Why a run trains the same in any
pack: every op is either elementwise (the activations, the loss, the update rules of
:mod:`regdemo.train.packedopt`) or batched over the run axis (``tf.linalg.matmul`` on (N, b, in) × (N, in,
out) computes each slice on its own; the reductions are per run), and each run's rows are padded to whole
packets (:func:`padded_rows`), so a run's numbers never depend on its neighbours (tests/train/test_packed.py
checks it bit for bit).

The loop is compiled by XLA (``jit_compile``), which fuses a step's many small ops into a few kernels, except
for a pack with dropout or early stopping (:attr:`PackShape.compiled_by_xla`). XLA draws other random numbers
than TensorFlow's kernels, so each epoch's batch order is drawn outside the compiled loop
(:meth:`PackedLoop.chunk_orders`, the orders ``model.fit`` is fed). Under XLA a bias' gradient is taken as a
matmul (:func:`add_bias`; XLA's sum over the rows depends on the pack's size), and a pack of one would be a
plain matmul: packs train at least :data:`MIN_RUNS` runs (:mod:`regdemo.train.packed` pads them).

Per-run values are tensors fed at each call (:class:`Feed`: data, batch orders, seeds, λ, learning rates,
weight decays, early-stopping settings), so one trace serves every pack of a shape; :class:`PackShape` names
what a trace is specific to.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from regdemo.columns import COLUMNS
from regdemo.train.batchorder import epoch_permutation
from regdemo.train.decay import decayed
from regdemo.train.packedopt import SLOTS, optimizer_step, proximal_step
from regdemo.train.packedstop import PackedEarlyStopping, StopFeed
from regdemo.train.packing import CHUNK_EPOCHS

# Rows per run are padded to a multiple of this (:func:`padded_rows`): Eigen's widest float packet (AVX-512).
ALIGN = 16
# Runs a compiled program trains at least: XLA computes a batch of one matmul as a plain matmul, in other bits.
MIN_RUNS = 2


@dataclass(frozen=True)
class PackShape:
    """What one compiled program is specific to: the layer widths from the inputs to the output (``units``,
    e.g. (2, 128, 128, 1)), the hidden activation, whether the output kernel is regularized, the training and
    validation rows, the batch size, the optimizer kind, the batch order kind, whether the runs stop early,
    ``regularizer.proximal``, the dropout rate and the number of runs."""

    units: tuple[int, ...]
    activation: str
    regularize_output: bool
    n_train: int
    n_val: int
    batch: int
    optimizer: str
    order: str
    early_stopping: bool
    proximal: bool | str
    dropout: float
    runs: int

    @property
    def compiled_by_xla(self) -> bool:
        """Whether XLA compiles the loop: not with dropout (its masks must be TensorFlow's, as Keras draws
        them), nor with early stopping (under XLA, a run's ``loss`` column came out 1 ulp apart in packs of 2
        and of 3 once a stopper was in the program, the multiply-adds fused as the fusion fell; its weights
        were the same)."""
        return not self.dropout and not self.early_stopping


class Feed(NamedTuple):
    """One pack's per-run values, fed to each call: N runs, n training and m validation rows.

    ``x_train`` (N, n, inputs), ``y_train`` (N, n, 1), ``x_val`` (N, m, inputs), ``y_val`` (N, m, 1) float32;
    ``orders`` (N, n) int32, each run's order for ``fixed`` and ``none`` (else unused); ``seeds`` (N,) int32;
    ``learning_rate``, ``decay`` (``TrainingConfig.decay()``, 0: none), ``l1``, ``l2`` (N,) float32: Keras'
    factors, penalty = l1·Σ|w| + l2·Σw² per regularized kernel; ``stop`` the early-stopping settings;
    ``dropout_state`` (N, hidden layers, 2) int64, each Dropout layer's SeedGenerator state before training.
    """

    x_train: tf.Tensor
    y_train: tf.Tensor
    x_val: tf.Tensor
    y_val: tf.Tensor
    orders: tf.Tensor
    seeds: tf.Tensor
    learning_rate: tf.Tensor
    decay: tf.Tensor
    l1: tf.Tensor
    l2: tf.Tensor
    stop: StopFeed
    dropout_state: tf.Tensor


def _per_run(values: tf.Tensor) -> tf.Tensor:
    """(N,) → (N, 1, 1): a per-run value broadcast over a stacked weight (every weight here is 3-D)."""
    return tf.reshape(values, [-1, 1, 1])


def _sum(w: tf.Tensor) -> tf.Tensor:
    """Each run's sum of a stacked weight: (N, in, out) → (N,); its columns summed by a batched matmul with
    ones (N, 1, in) × (N, in, out) first, which XLA vectorizes, where a sum over a run's entries it does not."""
    ones = tf.ones([w.shape[0], 1, w.shape[1]], w.dtype)
    return tf.reduce_sum(tf.linalg.matmul(ones, w), axis=[1, 2])


@tf.custom_gradient
def add_bias(z: tf.Tensor, bias: tf.Tensor) -> tuple[tf.Tensor, object]:
    """``z + bias``: z (N, b, out), bias (N, 1, out); the bias' gradient as a batched matmul of ones with the
    upstream gradient (N, 1, b) × (N, b, out), which XLA computes run by run, where its sum over the rows
    would not be."""

    def gradient(upstream: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        ones = tf.ones([upstream.shape[0], 1, upstream.shape[1]], upstream.dtype)
        return upstream, tf.linalg.matmul(ones, upstream)

    return tf.add(z, bias), gradient


def padded_rows(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Rows ``index`` (N, s) padded to a multiple of :data:`ALIGN` with row 0 → (padded index (N, s'), mask
    (1, s') of 1 for the real rows and 0 for the padding, s as a float32 scalar); s is static (the compiled
    program's shapes are).

    Why: Eigen computes an elementwise op (exp, log1p, the sigmoid…) in packets of up to 16 floats and the last
    few elements of a buffer one by one, and the two may differ in the last bit. Each run's slice of a
    per-row tensor is then a whole number of packets wherever it lies in the stack, so a run's numbers do not
    depend on the pack's size or its place in it. The padding rows weigh 0 in every sum and gradient.
    """
    size = index.shape[1]
    pad = (ALIGN - size % ALIGN) % ALIGN
    mask = tf.constant([[1.0] * size + [0.0] * pad])
    return tf.pad(index, [[0, 0], [0, pad]]), mask, tf.constant(float(size))


def _accuracy_sum(y: tf.Tensor, p: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Correct predictions per run at threshold 0.5 over the real rows: y, p (N, s', 1), mask (1, s') → (N,)."""
    correct = tf.cast(tf.equal(y, tf.cast(p > 0.5, y.dtype)), tf.float32)[:, :, 0]
    return tf.reduce_sum(correct * mask, axis=1)


def _data_loss(y: tf.Tensor, p: tf.Tensor, mask: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Keras' ``BinaryCrossentropy()`` per run over the real rows: y, p (N, s', 1), mask (1, s') → (N,), the
    sum / s (its ``sum_over_batch_size``; the sigmoid's logits are used, as Keras does)."""
    values = keras.losses.binary_crossentropy(y, p)  # (N, s'): Keras' per-sample loss, mean over the last axis
    return tf.math.divide_no_nan(tf.reduce_sum(values * mask, axis=1), size)


class PackedLoop:
    """The stacked variables and the compiled loop of one :class:`PackShape`; :meth:`reset` starts a new pack.

    Variables: per layer a kernel (N, in, out) and a bias (N, 1, out), the optimizer's slots of each, its
    step count, ``active`` (N,): a run no longer active (it stopped early, or diverged) keeps its weights and
    slots; and with early stopping its state (:class:`regdemo.train.packedstop.PackedEarlyStopping`).
    """

    traces = 0  # how often any PackedLoop traced its program (tests count retraces)

    def __init__(self, shape: PackShape) -> None:
        self.shape = shape
        n, units = shape.runs, shape.units
        self.weights: list[tf.Variable] = []
        for fan_in, fan_out in itertools.pairwise(units):
            self.weights += [tf.Variable(tf.zeros([n, fan_in, fan_out])), tf.Variable(tf.zeros([n, 1, fan_out]))]
        self.slots = [[tf.Variable(tf.zeros_like(w)) for _ in range(SLOTS[shape.optimizer])] for w in self.weights]
        self.iterations = tf.Variable(tf.constant(0, tf.int64))
        self.active = tf.Variable(tf.ones([n], tf.bool))
        self.stopper = PackedEarlyStopping(self.weights, n) if shape.early_stopping else None
        self.activation = keras.activations.get(shape.activation)
        self.run_epochs = tf.function(self._run_epochs, autograph=False, jit_compile=shape.compiled_by_xla)
        self._draw_orders = tf.function(self._epoch_orders, autograph=False)

    def reset(self, weights: list[np.ndarray]) -> None:
        """Start a pack: ``weights`` stacked as :attr:`weights` (kernels (N, in, out), biases (N, 1, out)),
        the slots at zero, the step count at 0, every run active."""
        for variable, value in zip(self.weights, weights, strict=True):
            variable.assign(value)
        for slots in self.slots:
            for slot in slots:
                slot.assign(tf.zeros_like(slot))
        self.iterations.assign(0)
        self.active.assign(tf.ones_like(self.active))
        if self.stopper is not None:
            self.stopper.reset()

    def forward(self, x: tf.Tensor, weights: list[tf.Tensor], dropout: tuple | None = None) -> tf.Tensor:
        """x (N, b, inputs) → P(class 1) (N, b, 1): Dense layers as Keras computes them (matmul, add the bias,
        activation), batched over the runs; with ``dropout`` (training: ``(feed, rows)``) each hidden layer's
        output goes through :meth:`dropout`."""
        h = x
        last = len(weights) // 2 - 1
        for i in range(last + 1):
            z = add_bias(tf.linalg.matmul(h, weights[2 * i]), weights[2 * i + 1])
            h = keras.activations.sigmoid(z) if i == last else self.activation(z)
            if dropout is not None and i < last and self.shape.dropout > 0:
                h = self.dropout(h, i, *dropout)
        return h

    def dropout(self, h: tf.Tensor, layer: int, feed: Feed, rows: tf.Tensor) -> tf.Tensor:
        """Keras' ``Dropout`` after hidden layer ``layer``, run by run: h (N, b', units) → the same shape, each
        run's ``rows`` real rows dropped as its own Dropout layer would drop them (keras/src/backend/tensorflow/
        random.py ``dropout``: ``stateless_dropout`` seeded by the layer's SeedGenerator state [s, c], c counting
        the training calls, here c₀ + the step count, cast as Keras' ``_cast_seed``), the padding rows 0.

        One op per run (on the run's own rows, the shape the compiled engine drops), so the mask is the one
        that run draws alone.
        """
        pad = [[0, h.shape[1] - rows], [0, 0]]
        dropped = []
        for r in range(self.shape.runs):
            state = feed.dropout_state[r, layer] + tf.stack([tf.constant(0, tf.int64), self.iterations.value()])
            seed = tf.cast(tf.math.floormod(state, tf.int32.max - 1), tf.int32)
            x = h[r, :rows]
            x = tf.nn.experimental.stateless_dropout(x, rate=self.shape.dropout, noise_shape=tf.shape(x), seed=seed)
            dropped.append(tf.pad(x, pad))
        return tf.stack(dropped)

    def regularized(self) -> list[int]:
        """Indices in :attr:`weights` of the regularized kernels: the hidden ones, and the output's if asked."""
        last = len(self.weights) - 2
        return [k for k in range(0, last + 1, 2) if k < last or self.shape.regularize_output]

    def thresholded(self) -> list[int]:
        """Indices in :attr:`weights` of the kernels the proximal step soft-thresholds (as
        :func:`regdemo.train.models.build_model` marks them): the regularized ones, or the first alone for
        ``proximal: rows``; none without proximal L1."""
        if not self.shape.proximal:
            return []
        return [0] if self.shape.proximal == "rows" else self.regularized()

    def penalty(self, weights: list[tf.Tensor], feed: Feed) -> tf.Tensor:
        """Each run's penalty (N,): Keras' ``l1·Σ|w| + l2·Σw²`` per regularized kernel, summed over the kernels
        (:func:`regdemo.train.models.penalty`). With proximal L1 the L1 part is the proximal step's: after the
        L2 terms, as a value only (``stop_gradient``), λ·Σ|w| or for rows λ·Σ_rows‖w_row‖₂."""
        kernels = [weights[k] for k in self.regularized()]
        if not self.shape.proximal:
            terms = [feed.l1 * _sum(tf.abs(k)) + feed.l2 * _sum(tf.square(k)) for k in kernels]
            return tf.add_n(terms) if terms else tf.zeros_like(feed.l1)
        rows = self.shape.proximal == "rows"
        parts = [tf.stop_gradient(weights[k]) for k in self.thresholded()]
        l1 = [feed.l1 * (tf.reduce_sum(tf.norm(w, axis=2), axis=1) if rows else _sum(tf.abs(w))) for w in parts]
        terms = [*(feed.l2 * _sum(tf.square(k)) for k in kernels), *([tf.add_n(l1)] if l1 else [])]
        return tf.add_n(terms) if terms else tf.zeros_like(feed.l1)

    def train_batch(self, index: tf.Tensor, feed: Feed) -> tf.Tensor:
        """One step of every run on its rows ``index`` (N, b) → (N, 3): [data loss·b, penalty·b, correct]."""
        rows = index.shape[1]
        index, mask, size = padded_rows(index)
        xb, yb = tf.gather(feed.x_train, index, batch_dims=1), tf.gather(feed.y_train, index, batch_dims=1)
        with tf.GradientTape() as tape:
            weights = [w.value() for w in self.weights]
            tape.watch(weights)
            pred = self.forward(xb, weights, (feed, rows))
            data_loss, batch_penalty = _data_loss(yb, pred, mask, size), self.penalty(weights, feed)
            # the runs' losses are independent: the gradient of their sum is each run's own gradient
            total = tf.reduce_sum(data_loss + batch_penalty)
        grads = tape.gradient(total, weights)
        step = tf.cast(self.iterations + 1, tf.float32)
        lr, active = _per_run(feed.learning_rate), _per_run(self.active)
        wd, l1, kind, thresholded = _per_run(feed.decay), _per_run(feed.l1), self.shape.optimizer, self.thresholded()
        for k, (weight, slots, grad) in enumerate(zip(self.weights, self.slots, grads, strict=True)):
            value = weight.value()
            if k % 2 == 0:  # a kernel: training.weight_decay between the gradient and the update, as Keras
                value = tf.where(wd > 0, decayed(value, lr, wd), value)
            updated = optimizer_step(kind, step, lr, grad, value, [s.value() for s in slots])
            if k in thresholded:  # after the update, with the step it took (regdemo.train.proximal)
                updated[0] = proximal_step(kind, step, lr, l1, updated, self.shape.proximal == "rows")
            for variable, value in zip([weight, *slots], updated, strict=True):
                variable.assign(tf.where(active, value, variable.value()))
        self.iterations.assign_add(1)
        return tf.stack([data_loss * size, batch_penalty * size, _accuracy_sum(yb, pred, mask)], axis=1)

    def chunk_orders(self, feed: Feed, start: int, count: int) -> tf.Tensor:
        """Each run's order of its training rows in epochs ``start`` … ``start + count − 1``, padded to
        ``CHUNK_EPOCHS`` epochs: (CHUNK_EPOCHS, N, n) int32, the compiled engine's orders run by run
        (:func:`regdemo.train.batchorder.epoch_permutation` for ``epoch``), drawn by TensorFlow's kernels."""
        if self.shape.order == "epoch":
            return self._draw_orders(feed.seeds, tf.constant(start, tf.int32), tf.constant(count, tf.int32))
        return tf.tile(feed.orders[None], [CHUNK_EPOCHS, 1, 1])

    def _epoch_orders(self, seeds: tf.Tensor, start: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        """:meth:`chunk_orders` for ``epoch``: one permutation per (epoch, run), then zeros up to the chunk."""
        n, runs = self.shape.n_train, self.shape.runs
        epochs, seeds = tf.meshgrid(start + tf.range(count), seeds, indexing="ij")  # (count, N) each
        pairs = tf.stack([tf.reshape(epochs, [-1]), tf.reshape(seeds, [-1])], axis=1)
        draw = lambda pair: epoch_permutation(n, pair[1], pair[0])  # noqa: E731
        orders = tf.reshape(tf.map_fn(draw, pairs, fn_output_signature=tf.int32), [count, runs, n])
        return tf.pad(orders, [[0, CHUNK_EPOCHS - count], [0, 0], [0, 0]])

    def run_epoch(self, order: tf.Tensor, feed: Feed) -> tf.Tensor:
        """An epoch of every run in its ``order`` (N, n): the batches, then validation → rows (N, len(COLUMNS))."""
        n, batch, runs = self.shape.n_train, self.shape.batch, self.shape.runs
        whole = n // batch  # full batches, then the smaller last one: each a shape of its own, known when traced

        def batch_step(b: tf.Tensor, sums: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return b + 1, sums + self.train_batch(tf.slice(order, [0, b * batch], [runs, batch]), feed)

        _, sums = tf.while_loop(lambda b, _: b < whole, batch_step, (tf.constant(0), tf.zeros([runs, 3])))
        if n % batch:
            sums += self.train_batch(order[:, whole * batch :], feed)
        weights = [w.value() for w in self.weights]
        rows, mask, m = padded_rows(tf.tile(tf.range(self.shape.n_val)[None, :], [self.shape.runs, 1]))
        x_val, y_val = tf.gather(feed.x_val, rows, batch_dims=1), tf.gather(feed.y_val, rows, batch_dims=1)
        val_pred = self.forward(x_val, weights)
        val_data, val_penalty = _data_loss(y_val, val_pred, mask, m), self.penalty(weights, feed)
        data_loss, mean_penalty, correct = sums[:, 0] / n, sums[:, 1] / n, sums[:, 2] / n
        val_acc = _accuracy_sum(y_val, val_pred, mask) / m
        losses = [data_loss + mean_penalty, val_data + val_penalty, data_loss, val_data]
        return tf.stack([*losses, mean_penalty, correct, val_acc], axis=1)

    def _run_epochs(self, feed: Feed, orders: tf.Tensor, start: tf.Tensor, count: tf.Tensor) -> tuple:
        """Epochs ``start`` … ``start + count − 1`` of every run, in ``orders`` (:meth:`chunk_orders`) →
        (rows (CHUNK_EPOCHS, N, len(COLUMNS)), epochs done): fewer than ``count`` done when early stopping has
        stopped every run, the rows past them zeros; a run's rows after its stop are not its own (frozen
        weights)."""
        PackedLoop.traces += 1  # Python runs only while tracing

        def epoch_step(e: tf.Tensor, going: tf.Tensor, rows: tf.TensorArray) -> tuple:
            epoch = start + e
            row = self.run_epoch(orders[e], feed)
            if self.stopper is not None:
                stop = self.stopper.update(row, epoch, self.active.value(), feed.stop)
                going = tf.reduce_any(self.active.assign(tf.logical_and(self.active.value(), tf.logical_not(stop))))
            return e + 1, going, rows.write(e, row)

        rows = tf.TensorArray(tf.float32, size=CHUNK_EPOCHS, element_shape=[self.shape.runs, len(COLUMNS)])
        done, _, rows = tf.while_loop(
            lambda e, going, _: tf.logical_and(e < count, going),
            epoch_step,
            (tf.constant(0), tf.reduce_any(self.active.value()), rows),
        )
        return rows.stack(), done
