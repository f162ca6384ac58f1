"""``engine: fit``, plain ``model.fit``, and what both engines share (the optimizer, the progress
callback's type; the chunk length is :data:`regdemo.train.packing.CHUNK_EPOCHS`). ``engine: compiled`` is
the packed engine (:mod:`regdemo.train.packed`, a pack of one run); :func:`regdemo.train.trainer.train_model`
trains a run with either.

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
after every optimizer step, :mod:`regdemo.train.proximal`) and early stopping with Keras' ``EarlyStopping``
semantics (in the compiled engine as graph ops, :mod:`regdemo.train.packedstop`), and, given a
:class:`regdemo.train.snapshots.Recorder`, keep the training film's snapshots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras
import numpy as np

from regdemo.columns import COLUMNS
from regdemo.config.schema import EarlyStoppingConfig, TrainingConfig
from regdemo.train.batchorder import reshuffled_batches
from regdemo.train.datasets import Split
from regdemo.train.decay import keras_decay
from regdemo.train.history import History
from regdemo.train.models import proximal_kernels
from regdemo.train.proximal import ProximalL1
from regdemo.train.snapshots import Recorder, RecordOnEpochEnd

EpochsDone = Callable[[int], None]


def make_optimizer(cfg: TrainingConfig, keras_weight_decay: bool = False) -> keras.optimizers.Optimizer:
    """The configured Keras optimizer with its learning rate (other settings at Keras' defaults); ``adamw`` is
    Adam, its decay being ``cfg.decay()``. With ``keras_weight_decay`` (``engine: fit``) Keras' optimizer applies
    that decay itself (the compiled engine has its own optimizer steps, :mod:`regdemo.train.packedopt`)."""
    cls = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.Adam,  # with cfg.decay(): Keras' AdamW is Adam with weight_decay
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    optimizer = cls[cfg.optimizer](learning_rate=cfg.learning_rate)
    return keras_decay(optimizer, cfg.decay()) if keras_weight_decay else optimizer


def _first_bad_epoch(loss: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(loss))
    return int(bad[0]) if bad.size else None


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
