"""The training engines: a whole run compiled into one ``tf.function``, and plain ``model.fit``.

Both return a :class:`History` with Keras' meaning for ``loss``/``val_loss``/``accuracy``/
``val_accuracy`` (the penalty is inside both losses, as Keras does) plus ``data_loss``,
``val_data_loss`` (without the penalty) and ``penalty``, one row per epoch:

- ``loss``, ``data_loss``, ``penalty``, ``accuracy``: sample-weighted means over the epoch's batches,
  taken while the weights change (Keras' running mean); ``loss = data_loss + penalty``.
- ``val_*``: the validation set with the end-of-epoch weights; ``val_loss`` adds the penalty of those
  weights.

Both engines run any of the three batch orders of ``training.shuffle`` (``epoch``, ``fixed``, ``none``;
:meth:`TrainingConfig.batch_order`, drawn by :mod:`regdemo.train.batchorder`) with the same batches, so for
the same order they train the same.

Both engines also apply decoupled weight decay (``training.weight_decay``, :mod:`regdemo.train.decay`: the
compiled engine with its own step, ``model.fit`` through Keras' optimizer), proximal L1 (a soft-threshold
after every optimizer step, :func:`regdemo.train.proximal.proximal_step`) and early stopping with Keras'
``EarlyStopping`` semantics (in the compiled engine as graph ops on ``tf.Variable`` state,
:class:`_GraphEarlyStopping`), and, given a :class:`regdemo.train.snapshots.Recorder`, keep the training
film's snapshots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from regdemo.columns import COLUMNS
from regdemo.config.schema import EarlyStoppingConfig, TrainingConfig
from regdemo.train.batchorder import epoch_permutation, fit_permutation, reshuffled_batches
from regdemo.train.datasets import Split
from regdemo.train.decay import decay_step, decayed_kernels, keras_decay
from regdemo.train.history import History
from regdemo.train.models import penalty, proximal_kernels
from regdemo.train.proximal import ProximalL1, proximal_step
from regdemo.train.snapshots import Recorder, RecordOnEpochEnd, chunk_spans

# Epochs per call of the compiled loop: large enough that call overhead vanishes, small enough
# that the progress bar moves several times a second.
CHUNK_EPOCHS = 100

EpochsDone = Callable[[int], None]


def make_optimizer(cfg: TrainingConfig, keras_weight_decay: bool = False) -> keras.optimizers.Optimizer:
    """The configured Keras optimizer with its learning rate (other settings at Keras' defaults); ``adamw`` is
    Adam, its decay being ``cfg.decay()``. With ``keras_weight_decay`` (``engine: fit``) Keras' optimizer applies
    that decay itself; the compiled engine applies it with :func:`regdemo.train.decay.decay_step`."""
    cls = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.Adam,  # with cfg.decay(): Keras' AdamW is Adam with weight_decay
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    optimizer = cls[cfg.optimizer](learning_rate=cfg.learning_rate)
    return keras_decay(optimizer, cfg.decay()) if keras_weight_decay else optimizer


class _GraphEarlyStopping:
    """Keras 3's ``EarlyStopping`` (keras/src/callbacks/early_stopping.py) as graph ops on ``tf.Variable``s.

    Mode min for losses, max for accuracies, no baseline, from epoch 0. Keras' separate first-epoch
    save of the best weights is subsumed: with no best yet, the first epoch always improves.
    """

    def __init__(self, cfg: EarlyStoppingConfig, model: keras.Model) -> None:
        self.cfg = cfg
        self.column = COLUMNS.index(cfg.monitor)
        self.maximize = cfg.monitor.endswith("accuracy")
        self.weights = list(model.weights) if cfg.restore_best_weights else []  # Keras: model.get_weights()
        self.best_weights = [tf.Variable(tf.identity(w.value), trainable=False) for w in self.weights]
        self.best = tf.Variable(0.0)
        self.has_best = tf.Variable(False)
        self.wait = tf.Variable(0)
        self.best_epoch = tf.Variable(0)
        self.stopped_epoch = tf.Variable(0)  # Keras' convention: 0 = did not stop (it never stops at epoch 0)

    def _improves(self, current: tf.Tensor) -> tf.Tensor:
        """Keras: ``monitor_op(current − min_delta, best)``, min_delta negated for min; Python floats, then float32."""
        delta = self.cfg.min_delta if self.maximize else -self.cfg.min_delta
        shifted = tf.cast(tf.cast(current, tf.float64) - delta, tf.float32)
        better = shifted > self.best if self.maximize else shifted < self.best
        return tf.logical_or(tf.logical_not(self.has_best), better)

    def update(self, row: tf.Tensor, epoch: tf.Tensor) -> tf.Tensor:
        """Keras' ``on_epoch_end`` for one history ``row`` (shape (len(COLUMNS),)); True when training must stop."""
        current = row[self.column]
        improved = self._improves(current)
        wait = self.wait.assign_add(1)
        self.best.assign(tf.where(improved, current, self.best))
        self.has_best.assign(True)
        self.best_epoch.assign(tf.where(improved, epoch, self.best_epoch))
        wait = self.wait.assign(tf.where(improved, 0, wait))
        for weight, best in zip(self.weights, self.best_weights, strict=True):
            best.assign(tf.where(improved, weight.value, best))
        stop = tf.logical_and(tf.logical_not(improved), tf.logical_and(wait >= self.cfg.patience, epoch > 0))
        self.stopped_epoch.assign(tf.where(stop, epoch, self.stopped_epoch))
        return stop

    def finish(self) -> tuple[int | None, int | None]:
        """Keras' ``on_train_end``: restore the best weights (whether or not it stopped early, as Keras 3 does).

        Returns ``(stopped_epoch, best_epoch)`` counted from 1, None where not applicable.
        """
        if self.cfg.restore_best_weights and bool(self.has_best.numpy()):
            for weight, best in zip(self.weights, self.best_weights, strict=True):
                weight.assign(best)
        stopped, best = int(self.stopped_epoch.numpy()), int(self.best_epoch.numpy())
        return (stopped + 1 if stopped > 0 else None), (best + 1 if self.has_best.numpy() else None)


def _accuracy_sum(y: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
    """Number of correct predictions at threshold 0.5; y and p of shape (n, 1)."""
    return tf.reduce_sum(tf.cast(tf.equal(y, tf.cast(p > 0.5, y.dtype)), tf.float32))


def _first_bad_epoch(loss: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(loss))
    return int(bad[0]) if bad.size else None


class _CompiledLoop:
    """One run's training as graph code, read top-down: :meth:`run_epochs` (a graph loop over epochs, compiled
    once) → :meth:`run_epoch` (the epoch's order, its batches, validation → one history row) →
    :meth:`train_batch` (one optimizer step, then the proximal step).

    Graph loops are written out (``tf.while_loop``), not left to AutoGraph: its source-to-source conversion
    costs ~0.6 s on a process's first run, a large share of a short sweep's start-up.
    """

    def __init__(self, model: keras.Model, data: Split, cfg: TrainingConfig, seed: int) -> None:
        self.model, self.cfg, self.seed = model, cfg, seed
        self.x_train, self.y_train = tf.constant(data.x_train), tf.constant(data.y_train[:, None])
        self.x_val, self.y_val = tf.constant(data.x_val), tf.constant(data.y_val[:, None])
        self.n, self.batch = len(data.x_train), min(cfg.batch_size, len(data.x_train))
        self.n_batches = math.ceil(self.n / self.batch)
        self.loss_fn = keras.losses.BinaryCrossentropy()
        self.optimizer = make_optimizer(cfg)
        self.variables = model.trainable_variables
        self.optimizer.build(self.variables)
        self.prox = proximal_kernels(model)
        self.decay, self.decayed = cfg.decay(), decayed_kernels(model)
        self.stopper = _GraphEarlyStopping(cfg.early_stopping, model) if cfg.early_stopping else None
        self.order = cfg.batch_order()
        self.fixed = tf.constant(fit_permutation(self.n, seed), tf.int32) if self.order == "fixed" else None
        self.run_epochs = tf.function(self._run_epochs, reduce_retracing=True, autograph=False)

    def train_batch(self, index: tf.Tensor) -> tf.Tensor:
        """One step on the rows ``index`` (shape (b,)) → [data loss·b, penalty·b, correct predictions]."""
        xb, yb = tf.gather(self.x_train, index), tf.gather(self.y_train, index)
        with tf.GradientTape() as tape:
            pred = self.model(xb, training=True)
            data_loss = self.loss_fn(yb, pred)
            batch_penalty = penalty(self.model)
            total = data_loss + batch_penalty
        grads = tape.gradient(total, self.variables)
        if self.decay:  # training.weight_decay (regdemo.train.decay): between the gradient and the update, as Keras
            decay_step(self.optimizer, self.decayed, self.decay)
        self.optimizer.apply(grads, self.variables)
        if self.prox:
            proximal_step(self.optimizer, self.prox)
        size = tf.cast(tf.shape(index)[0], tf.float32)
        return tf.stack([data_loss * size, batch_penalty * size, _accuracy_sum(yb, pred)])

    def epoch_order(self, epoch: tf.Tensor) -> tf.Tensor:
        """The training rows' order in epoch ``epoch`` (shape (n,)): drawn from ``(seed, epoch)`` (``epoch``),
        ``model.fit``'s one permutation (``fixed``), or as stored (``none``)."""
        if self.order == "epoch":
            return epoch_permutation(self.n, self.seed, epoch)
        if self.order == "fixed":
            return self.fixed
        return tf.range(self.n)

    def run_epoch(self, epoch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Epoch number ``epoch`` of the run: its batches, then validation → (history row of shape
        (len(COLUMNS),), whether early stopping ends the run here)."""
        order, n, batch = self.epoch_order(epoch), self.n, self.batch

        def batch_step(b: tf.Tensor, sums: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return b + 1, sums + self.train_batch(order[b * batch : tf.minimum((b + 1) * batch, n)])

        _, sums = tf.while_loop(lambda b, _: b < self.n_batches, batch_step, (tf.constant(0), tf.zeros(3)))
        val_pred = self.model(self.x_val, training=False)
        val_data = self.loss_fn(self.y_val, val_pred)
        val_penalty = penalty(self.model)
        data_loss, mean_penalty, correct = sums[0] / n, sums[1] / n, sums[2] / n
        val_acc = _accuracy_sum(self.y_val, val_pred) / tf.cast(tf.shape(self.y_val)[0], tf.float32)
        row = tf.stack(
            [data_loss + mean_penalty, val_data + val_penalty, data_loss, val_data, mean_penalty, correct, val_acc]
        )
        return row, self.stopper.update(row, epoch) if self.stopper is not None else tf.constant(False)

    def _run_epochs(self, start: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        """Epochs ``start`` … ``start + count − 1`` → their rows, shape (≤ count, len(COLUMNS)) (fewer when
        early stopping ends the run)."""

        def epoch_step(e: tf.Tensor, stop: tf.Tensor, rows: tf.TensorArray) -> tuple:
            row, stop = self.run_epoch(start + e)
            return e + 1, stop, rows.write(e, row)

        rows = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        _, _, rows = tf.while_loop(
            lambda e, stop, _: tf.logical_and(e < count, tf.logical_not(stop)),
            epoch_step,
            (tf.constant(0), tf.constant(False), rows),
        )
        return rows.stack()


def train_compiled(
    model: keras.Model,
    data: Split,
    cfg: TrainingConfig,
    seed: int,
    progress: EpochsDone | None = None,
    recorder: Recorder | None = None,
) -> History:
    """Train with every epoch and batch inside one compiled ``tf.function`` (:class:`_CompiledLoop`).

    The function runs ``CHUNK_EPOCHS`` epochs per call; the batch order is ``cfg.batch_order()``
    (:meth:`_CompiledLoop.epoch_order`). A chunk whose loss is NaN or infinite ends the run,
    its history cut after the first bad epoch. Early stopping breaks out of the epoch loop and no further
    chunk is called. With a ``recorder``, chunks also end at its epochs and it reads the model between
    them (the same epochs, in the same graph, so the history does not change).
    """
    loop = _CompiledLoop(model, data, cfg, seed)
    started = time.perf_counter()
    chunks, status = [], "completed"
    if recorder:
        recorder.record(0)
    for start, count in chunk_spans(cfg.epochs, CHUNK_EPOCHS, recorder.epochs if recorder else ()):
        chunk = loop.run_epochs(tf.constant(start, tf.int32), tf.constant(count, tf.int32)).numpy()
        bad = _first_bad_epoch(chunk[:, 0])
        chunks.append(chunk if bad is None else chunk[: bad + 1])
        if progress:
            progress(start + len(chunks[-1]))
        if bad is not None:
            status = "diverged"
            break
        if recorder and len(chunk) == count:
            recorder.record(start + count)
        if len(chunk) < count:  # early stopping broke out of this chunk
            break
    table = np.concatenate(chunks)
    columns = {name: table[:, i].astype(np.float64) for i, name in enumerate(COLUMNS)}
    history = History(columns, status, time.perf_counter() - started)
    if loop.stopper is not None:
        history.stopped_epoch, history.best_epoch = loop.stopper.finish()
    return history


class _StopOnNonFinite(keras.callbacks.Callback):
    """Keras' TerminateOnNaN, without its print: a non-finite batch loss stops ``fit``."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not math.isfinite(float((logs or {}).get("loss", 0.0))):
            self.model.stop_training = True


def _keras_early_stopping(cfg: EarlyStoppingConfig) -> keras.callbacks.EarlyStopping:
    """Keras' EarlyStopping with the mode spelled out (min for losses, max for accuracies)."""
    return keras.callbacks.EarlyStopping(
        monitor=cfg.monitor,
        min_delta=cfg.min_delta,
        patience=cfg.patience,
        mode="max" if cfg.monitor.endswith("accuracy") else "min",
        restore_best_weights=cfg.restore_best_weights,
    )


class _Progress(keras.callbacks.Callback):
    def __init__(self, progress: EpochsDone) -> None:
        super().__init__()
        self._progress = progress

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._progress(epoch + 1)


def train_fit(
    model: keras.Model,
    data: Split,
    cfg: TrainingConfig,
    seed: int,
    progress: EpochsDone | None = None,
    recorder: Recorder | None = None,
) -> History:
    """Train with plain ``model.fit`` (the lecture's way), recording the same columns.

    ``data_loss`` is a Keras ``BinaryCrossentropy`` metric, so Keras computes it exactly like the
    loss minus the penalty; ``penalty`` is then ``loss − data_loss``. The batch order is
    ``cfg.batch_order()``: ``fixed`` is ``fit``'s own ``shuffle=True`` (from Keras' global seed, which
    :func:`regdemo.train.build.prepare` set to ``seed``), ``none`` its ``shuffle=False``, ``epoch`` the
    batches of :func:`regdemo.train.batchorder.reshuffled_batches`.
    """
    order = cfg.batch_order()
    if order == "epoch":  # shuffle=False: the dataset is in order already (True would only warn)
        batches = math.ceil(len(data.x_train) / cfg.batch_size)
        inputs = {"x": reshuffled_batches(data, cfg, seed), "steps_per_epoch": batches, "shuffle": False}
    else:
        inputs = {"x": data.x_train, "y": data.y_train[:, None], "batch_size": cfg.batch_size}
        inputs["shuffle"] = order == "fixed"
    model.compile(
        # training.weight_decay: Keras' own, the decay regdemo.train.decay mirrors
        optimizer=make_optimizer(cfg, keras_weight_decay=True),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy", keras.metrics.BinaryCrossentropy(name="data_loss")],
    )
    callbacks: list[keras.callbacks.Callback] = [_StopOnNonFinite()]
    if proximal_kernels(model):
        callbacks.insert(0, ProximalL1(len(data.x_train), cfg.batch_size))
    stopper = _keras_early_stopping(cfg.early_stopping) if cfg.early_stopping else None
    if stopper:
        callbacks.append(stopper)
    if recorder:  # after EarlyStopping: the last epoch is recorded before it restores the best weights
        callbacks.append(RecordOnEpochEnd(recorder))
    if progress:
        callbacks.append(_Progress(progress))
    started = time.perf_counter()
    fitted = model.fit(
        **inputs,
        validation_data=(data.x_val, data.y_val[:, None]),
        epochs=cfg.epochs,
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
    history = History({name: columns[name] for name in COLUMNS}, status, seconds)
    if stopper:  # Keras counts epochs from 0 and uses stopped_epoch 0 for "did not stop"
        history.stopped_epoch = stopper.stopped_epoch + 1 if stopper.stopped_epoch > 0 else None
        history.best_epoch = stopper.best_epoch + 1 if stopper.best is not None else None
    return history


def train(
    model: keras.Model,
    data: Split,
    cfg: TrainingConfig,
    seed: int,
    progress: EpochsDone | None = None,
    recorder: Recorder | None = None,
) -> History:
    """Train ``model`` in place with the configured engine; a ``recorder`` keeps the film's snapshots (its
    epochs past the end of a stopped or diverged run are dropped)."""
    engine = train_compiled if cfg.engine == "compiled" else train_fit
    history = engine(model, data, cfg, seed, progress, recorder)
    if recorder:
        recorder.trim(history.epochs_run, history.status == "diverged")
    return history
