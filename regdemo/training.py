"""The training engines: a whole run compiled into one ``tf.function``, and plain ``model.fit``.

Both return a :class:`History` with Keras' meaning for ``loss``/``val_loss``/``accuracy``/
``val_accuracy`` (the penalty is inside both losses, as Keras does) plus ``data_loss``,
``val_data_loss`` (without the penalty) and ``penalty``, one row per epoch:

- ``loss``, ``data_loss``, ``penalty``, ``accuracy``: sample-weighted means over the epoch's batches,
  taken while the weights change (Keras' running mean); ``loss = data_loss + penalty``.
- ``val_*``: the validation set with the end-of-epoch weights; ``val_loss`` adds the penalty of those
  weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from regdemo.config import TrainingConfig
from regdemo.datasets import Split
from regdemo.models import penalty

COLUMNS = ("loss", "val_loss", "data_loss", "val_data_loss", "penalty", "accuracy", "val_accuracy")
# Epochs per call of the compiled loop: large enough that call overhead vanishes, small enough
# that the progress bar moves several times a second.
CHUNK_EPOCHS = 100

Progress = Callable[[int], None]


@dataclass
class History:
    """Per-epoch training record: each column an array of shape (epochs_run,)."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    status: str = "completed"
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.columns["loss"])


def make_optimizer(cfg: TrainingConfig) -> keras.optimizers.Optimizer:
    """The configured Keras optimizer with its learning rate (other settings at Keras' defaults)."""
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return cls[cfg.optimizer](learning_rate=cfg.learning_rate)


def _accuracy_sum(y: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
    """Number of correct predictions at threshold 0.5; y and p of shape (n, 1)."""
    return tf.reduce_sum(tf.cast(tf.equal(y, tf.cast(p > 0.5, y.dtype)), tf.float32))


def _first_bad_epoch(loss: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(loss))
    return int(bad[0]) if bad.size else None


def train_compiled(
    model: keras.Model, data: Split, cfg: TrainingConfig, seed: int, progress: Progress | None = None
) -> History:
    """Train with every epoch and batch inside one compiled ``tf.function``.

    The function runs ``CHUNK_EPOCHS`` epochs per call (graph loops over epochs and batches); each
    epoch draws its own permutation from ``(seed, epoch)`` unless ``cfg.shuffle`` is off. A chunk
    whose loss is NaN or infinite ends the run, its history cut after the first bad epoch.
    """
    x_train, y_train = tf.constant(data.x_train), tf.constant(data.y_train[:, None])
    x_val, y_val = tf.constant(data.x_val), tf.constant(data.y_val[:, None])
    n, batch = len(data.x_train), min(cfg.batch_size, len(data.x_train))
    n_batches = math.ceil(n / batch)
    loss_fn = keras.losses.BinaryCrossentropy()
    optimizer = make_optimizer(cfg)
    variables = model.trainable_variables
    optimizer.build(variables)

    def train_batch(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        xb, yb = tf.gather(x_train, index), tf.gather(y_train, index)
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            data_loss = loss_fn(yb, pred)
            batch_penalty = penalty(model)
            total = data_loss + batch_penalty
        optimizer.apply(tape.gradient(total, variables), variables)
        size = tf.cast(tf.shape(index)[0], tf.float32)
        return data_loss * size, batch_penalty * size, _accuracy_sum(yb, pred)

    @tf.function(reduce_retracing=True)
    def run_epochs(start: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        rows = tf.TensorArray(tf.float32, size=count)
        for e in tf.range(count):
            epoch = start + e
            if cfg.shuffle:
                order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([seed, epoch])))
            else:
                order = tf.range(n)
            sums = tf.zeros(3)
            for b in tf.range(n_batches):
                index = order[b * batch : tf.minimum((b + 1) * batch, n)]
                sums += tf.stack(train_batch(index))
            val_pred = model(x_val, training=False)
            val_data = loss_fn(y_val, val_pred)
            val_penalty = penalty(model)
            data_loss, mean_penalty, correct = sums[0] / n, sums[1] / n, sums[2] / n
            val_acc = _accuracy_sum(y_val, val_pred) / tf.cast(tf.shape(y_val)[0], tf.float32)
            row = tf.stack(
                [data_loss + mean_penalty, val_data + val_penalty, data_loss, val_data, mean_penalty, correct, val_acc]
            )
            rows = rows.write(e, row)
        return rows.stack()

    started = time.perf_counter()
    chunks, status = [], "completed"
    for start in range(0, cfg.epochs, CHUNK_EPOCHS):
        count = min(CHUNK_EPOCHS, cfg.epochs - start)
        chunk = run_epochs(tf.constant(start, tf.int32), tf.constant(count, tf.int32)).numpy()
        bad = _first_bad_epoch(chunk[:, 0])
        chunks.append(chunk if bad is None else chunk[: bad + 1])
        if progress:
            progress(start + (count if bad is None else bad + 1))
        if bad is not None:
            status = "diverged"
            break
    table = np.concatenate(chunks)
    columns = {name: table[:, i].astype(np.float64) for i, name in enumerate(COLUMNS)}
    return History(columns, status, time.perf_counter() - started)


class _StopOnNonFinite(keras.callbacks.Callback):
    """Keras' TerminateOnNaN, without its print: a non-finite batch loss stops ``fit``."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not math.isfinite(float((logs or {}).get("loss", 0.0))):
            self.model.stop_training = True


class _Progress(keras.callbacks.Callback):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._progress(epoch + 1)


def train_fit(
    model: keras.Model, data: Split, cfg: TrainingConfig, seed: int, progress: Progress | None = None
) -> History:
    """Train with plain ``model.fit`` (the lecture's way), recording the same columns.

    ``data_loss`` is a Keras ``BinaryCrossentropy`` metric, so Keras computes it exactly like the
    loss minus the penalty; ``penalty`` is then ``loss − data_loss``. ``seed`` is unused: ``fit``
    shuffles from Keras' global seed.
    """
    del seed
    model.compile(
        optimizer=make_optimizer(cfg),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy", keras.metrics.BinaryCrossentropy(name="data_loss")],
    )
    callbacks: list[keras.callbacks.Callback] = [_StopOnNonFinite()]
    if progress:
        callbacks.append(_Progress(progress))
    started = time.perf_counter()
    fitted = model.fit(
        data.x_train,
        data.y_train[:, None],
        validation_data=(data.x_val, data.y_val[:, None]),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        shuffle=cfg.shuffle,
        callbacks=callbacks,
        verbose=0,
    ).history
    seconds = time.perf_counter() - started
    columns = {name: np.asarray(fitted[name], dtype=np.float64) for name in COLUMNS if name in fitted}
    # A NaN epoch stops fit before validation runs: pad the validation columns to one row per epoch.
    epochs = len(columns["loss"])
    for name in ("val_loss", "val_data_loss", "val_accuracy"):
        columns[name] = np.pad(columns[name], (0, epochs - len(columns[name])), constant_values=np.nan)
    columns["penalty"] = columns["loss"] - columns["data_loss"]
    status = "completed" if _first_bad_epoch(columns["loss"]) is None else "diverged"
    return History({name: columns[name] for name in COLUMNS}, status, seconds)


def train(model: keras.Model, data: Split, cfg: TrainingConfig, seed: int, progress: Progress | None = None) -> History:
    """Train ``model`` in place with the configured engine."""
    engine = train_compiled if cfg.engine == "compiled" else train_fit
    return engine(model, data, cfg, seed, progress)
