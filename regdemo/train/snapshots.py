"""The training film's recording (``plots.snapshots``): which epochs, where the compiled loop's chunks end
for them, and :class:`Recorder`, which evaluates the model on the snapshot grid and reads the first
Dense kernel at those epochs (one compiled ``tf.function``, no ``model.predict``).

The epochs are counted as history.csv counts them: snapshot ``e`` holds the weights after ``e`` epochs,
so ``0`` is the random initialisation and ``epochs`` the end of training. Recording reads the model with
``training=False`` only (no dropout mask is drawn, no variable is written), so a run's history and
weights are the same, bit for bit, with snapshots on or off (tests/train/test_snapshots.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from regdemo.train.models import dense_layers


def snapshot_epochs(epochs: int, count: int) -> list[int]:
    """The epochs (from 0: the initial weights) of ``count`` evenly spaced snapshots of a run of ``epochs``.

    ``count`` ≥ 2: ``round(linspace(0, epochs, count))``, both ends included, duplicates merged (so a run
    shorter than ``count − 1`` epochs gets one snapshot per epoch); ``count`` = 1: the end only; 0: none.
    """
    if count <= 0:
        return []
    if count == 1:
        return [epochs]
    return [int(e) for e in np.unique(np.round(np.linspace(0, epochs, count)).astype(int))]


def chunk_spans(epochs: int, chunk: int, stops: Iterable[int] = ()) -> list[tuple[int, int]]:
    """The compiled loop's calls as ``(start, count)``: ``chunk`` epochs each, also ending at every epoch of
    ``stops`` inside the run, so the recorder can read the model there between two calls."""
    ends = sorted({*range(chunk, epochs, chunk), *(e for e in stops if 0 < e < epochs), epochs})
    return [(start, end - start) for start, end in zip([0, *ends[:-1]], ends, strict=True)]


class Recorder:
    """Keeps P(class 1) on the snapshot grid and the first Dense kernel at the chosen epochs.

    ``points`` (m, inputs) float32 are the grid's points, rows of the mesh flattened (noise inputs at 0);
    ``epochs`` from :func:`snapshot_epochs`. An engine calls :meth:`record` with the number of epochs done whenever the
    model is between epochs; only the chosen epochs are kept, each once.
    """

    def __init__(self, model: keras.Model, points: np.ndarray, epochs: Sequence[int]) -> None:
        self.epochs = list(epochs)
        self._wanted = set(self.epochs)
        kernel, grid = dense_layers(model)[0].kernel, tf.constant(points, tf.float32)
        # One graph for the model call and the kernel read: an eager call costs ~10× more per snapshot.
        self._read = tf.function(
            lambda: (model(grid, training=False)[:, 0], tf.identity(kernel.value)), autograph=False
        )
        self.recorded: list[int] = []
        self.probs: list[np.ndarray] = []
        self.kernels: list[np.ndarray] = []

    def record(self, done: int) -> None:
        """Keep the model's state after ``done`` epochs, if that is a snapshot epoch not yet kept."""
        if done in self._wanted and done not in self.recorded:
            prob, kernel = self._read()
            self.recorded.append(done)
            self.probs.append(prob.numpy())
            self.kernels.append(kernel.numpy())

    def trim(self, epochs_run: int, diverged: bool) -> None:
        """Drop snapshots the history does not cover: past ``epochs_run``, and for a diverged run its last
        (non-finite) epoch too, whichever engine recorded them."""
        last = epochs_run - 1 if diverged else epochs_run
        keep = [i for i, e in enumerate(self.recorded) if e <= last]
        self.recorded = [self.recorded[i] for i in keep]
        self.probs = [self.probs[i] for i in keep]
        self.kernels = [self.kernels[i] for i in keep]


class RecordOnEpochEnd(keras.callbacks.Callback):
    """``model.fit``'s recording: the initial weights on train begin, then every epoch's end.

    Put it after EarlyStopping, which restores the best weights only on train end, after the last epoch's
    snapshot (as the compiled engine does).
    """

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self._recorder = recorder

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._recorder.record(0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._recorder.record(epoch + 1)
