"""Early stopping in the packed engine: Keras 3's ``EarlyStopping`` run by run, as graph ops on (N,) variables.

Keras' ``on_epoch_end`` as graph ops (0.2's compiled engine's ``_GraphEarlyStopping``, expression for
expression), with one value per run for each of its ``tf.Variable``s and each run's own settings
(:class:`StopFeed`); a run that is not active (it stopped, or diverged) keeps its state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from regdemo.columns import COLUMNS
from regdemo.config.schema import EarlyStoppingConfig


class StopFeed(NamedTuple):
    """Each run's early-stopping settings, (N,) each: the monitored column's index in ``COLUMNS`` (int32),
    whether it is maximized (bool; accuracies), ``min_delta`` (float64), ``patience`` (int32) and
    ``restore_best_weights`` (bool)."""

    column: tf.Tensor
    maximize: tf.Tensor
    min_delta: tf.Tensor
    patience: tf.Tensor
    restore: tf.Tensor


def stop_feed(configs: list[EarlyStoppingConfig | None]) -> StopFeed:
    """The runs' settings as tensors; a run without early stopping gets Keras' defaults (unused: a pack's runs
    all have early stopping or none do)."""
    configs = [cfg or EarlyStoppingConfig() for cfg in configs]
    return StopFeed(
        column=tf.constant([COLUMNS.index(cfg.monitor) for cfg in configs], tf.int32),
        maximize=tf.constant([cfg.monitor.endswith("accuracy") for cfg in configs]),
        min_delta=tf.constant([cfg.min_delta for cfg in configs], tf.float64),
        patience=tf.constant([cfg.patience for cfg in configs], tf.int32),
        restore=tf.constant([cfg.restore_best_weights for cfg in configs]),
    )


class PackedEarlyStopping:
    """Each run's ``EarlyStopping`` state, (N,) variables, and the best weights (the stacked weights' shapes)."""

    def __init__(self, weights: list[tf.Variable], runs: int) -> None:
        self.weights = weights
        self.best_weights = [tf.Variable(tf.zeros_like(w)) for w in weights]
        self.best = tf.Variable(tf.zeros([runs]))
        self.has_best = tf.Variable(tf.zeros([runs], tf.bool))
        self.wait = tf.Variable(tf.zeros([runs], tf.int32))
        self.best_epoch = tf.Variable(tf.zeros([runs], tf.int32))
        self.stopped_epoch = tf.Variable(tf.zeros([runs], tf.int32))  # Keras' convention: 0 = did not stop

    def reset(self) -> None:
        """No run has a best yet, none stopped."""
        for variable in (*self.best_weights, self.best, self.has_best, self.wait, self.best_epoch, self.stopped_epoch):
            variable.assign(tf.zeros_like(variable))

    def _improves(self, current: tf.Tensor, feed: StopFeed) -> tf.Tensor:
        """Keras: ``monitor_op(current − min_delta, best)``, min_delta negated for min; in float64, then float32."""
        delta = tf.where(feed.maximize, feed.min_delta, -feed.min_delta)
        shifted = tf.cast(tf.cast(current, tf.float64) - delta, tf.float32)
        better = tf.where(feed.maximize, shifted > self.best, shifted < self.best)
        return tf.logical_or(tf.logical_not(self.has_best), better)

    def update(self, rows: tf.Tensor, epoch: tf.Tensor, active: tf.Tensor, feed: StopFeed) -> tf.Tensor:
        """Keras' ``on_epoch_end`` for each active run's row (``rows`` (N, len(COLUMNS))) → (N,) bool: the
        runs that must stop here. An inactive run's state does not change."""
        current = tf.gather(rows, feed.column, batch_dims=1)
        improved = self._improves(current, feed)
        wait = tf.where(improved, 0, self.wait + 1)
        stop = tf.logical_and(tf.logical_not(improved), tf.logical_and(wait >= feed.patience, epoch > 0))
        stop = tf.logical_and(stop, active)
        shaped = tf.reshape(tf.logical_and(improved, tf.logical_and(feed.restore, active)), [-1, 1, 1])
        for weight, best in zip(self.weights, self.best_weights, strict=True):
            best.assign(tf.where(shaped, weight.value(), best.value()))
        improved = tf.logical_and(improved, active)
        self.best.assign(tf.where(improved, current, self.best))
        self.has_best.assign(tf.logical_or(self.has_best, active))
        self.best_epoch.assign(tf.where(improved, epoch, self.best_epoch))
        self.wait.assign(tf.where(active, wait, self.wait))
        self.stopped_epoch.assign(tf.where(stop, epoch, self.stopped_epoch))
        return stop

    def finish(self, i: int, restore: bool) -> tuple[int | None, int | None, list[np.ndarray] | None]:
        """Keras' ``on_train_end`` for run ``i``: (stopped epoch, best epoch) counted from 1, None where not
        applicable, and its best weights (stacked layout) if they are to be restored, else None."""
        stopped, has_best = int(self.stopped_epoch[i].numpy()), bool(self.has_best[i].numpy())
        best = int(self.best_epoch[i].numpy()) + 1 if has_best else None
        weights = [w.numpy()[i] for w in self.best_weights] if restore and has_best else None
        return (stopped + 1 if stopped > 0 else None), best, weights
