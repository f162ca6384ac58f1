"""The packed engine (issue 17, "Many runs, one program"): runs whose shapes agree train together in one
compiled ``tf.function`` over stacked weights (:mod:`regdemo.train.packedloop`), each with its own initial
weights, λ, learning rate and batch order. ``engine: compiled`` is this engine: a run trained alone is a pack
of one (:func:`regdemo.train.trainer.train_model`), bit for bit what it is in any pack.

- :func:`pack_key`: what must agree for runs to share a pack; None for a run the packed engine cannot train
  (``engine: fit``: the caller trains it with :func:`regdemo.train.trainer.train_model`);
- :func:`pack_run`: a run prepared as every run is (:func:`regdemo.train.start.prepare`: seed, dataset,
  model), its model to receive the final weights;
- :func:`train_pack`: N runs of one key → one :class:`PackResult` per run (its :class:`History`, with the
  compiled engine's columns and meaning, and its final weights in ``model.get_weights()`` order).

Packable today: engine ``compiled``; optimizers adam, adamw, sgd, rmsprop, each run its own weight decay; every
activation; regularizer none, l1, l2, l1_l2, each run its own kind and λ (proximal L1, elementwise or by rows:
one mode per pack); dropout, each run its own masks; every batch order (``training.shuffle``); early stopping,
each run its own settings; the film's snapshots, recorded by each run's own :class:`Recorder`. A run that
diverges keeps its history up to its first non-finite epoch and the weights at the end of that chunk.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from regdemo.columns import COLUMNS
from regdemo.config.schema import RunConfig
from regdemo.train.batchorder import fit_permutation
from regdemo.train.datasets import Split
from regdemo.train.engines import EpochsDone
from regdemo.train.history import History
from regdemo.train.packedloop import MIN_RUNS, Feed, PackedLoop, PackShape
from regdemo.train.packedstop import stop_feed
from regdemo.train.packing import CHUNK_EPOCHS, pack_key
from regdemo.train.snapshots import Recorder, chunk_spans
from regdemo.train.start import prepare


@dataclass
class PackRun:
    """One run of a pack: its config, its data and its initial weights (``model.get_weights()`` order:
    kernel (in, out), bias (out,) per Dense layer, input side first); for the film (``plots.snapshots``) its
    Keras model and a :class:`regdemo.train.snapshots.Recorder` of that model."""

    cfg: RunConfig
    data: Split
    weights: list[np.ndarray]
    model: keras.Model | None = None
    recorder: Recorder | None = None


@dataclass
class PackResult:
    """One run's outcome: its history and its final weights (``model.set_weights`` takes them)."""

    history: History
    weights: list[np.ndarray]


def pack_run(cfg: RunConfig) -> tuple[keras.Model, PackRun]:
    """Prepare ``cfg`` as every run is (:func:`regdemo.train.start.prepare`: its seed, its dataset, its
    model), so its initial weights are those of ``model.fit``'s run: (the model, the run for :func:`train_pack`)."""
    model, data = prepare(cfg)
    return model, PackRun(cfg, data, model.get_weights(), model)


def _shape(runs: Sequence[PackRun]) -> PackShape:
    """The pack's :class:`PackShape`; ValueError if the runs' keys or data sizes disagree."""
    first = runs[0]
    keys = {pack_key(run.cfg) for run in runs}
    if None in keys or len(keys) != 1:
        raise ValueError("train_pack: every run needs the same pack_key, and none may be None")
    if any((run.recorder is not None or run.cfg.model.dropout) and run.model is None for run in runs):
        raise ValueError("train_pack: a run with a recorder or dropout needs its model (pack_run gives it)")
    sizes = {(run.data.x_train.shape, run.data.x_val.shape) for run in runs}
    if len(sizes) != 1:
        raise ValueError(f"train_pack: the runs' data come in different sizes: {sorted(sizes)}")
    model, training = first.cfg.model, first.cfg.training
    n_train = len(first.data.x_train)
    return PackShape(
        units=(first.data.n_inputs, *model.hidden_units, 1),
        activation=model.activation,
        regularize_output=model.regularizer.apply_to_output,
        n_train=n_train,
        n_val=len(first.data.x_val),
        batch=min(training.batch_size, n_train),
        optimizer=training.optimizer,
        order=training.batch_order(),
        early_stopping=training.early_stopping is not None,
        proximal=model.regularizer.proximal,
        dropout=model.dropout,
        runs=len(runs),
    )


# One compiled program per shape for the process's life: a new pack of a seen shape does not trace again (each
# keeps its stacked variables: weights, slots and, with early stopping, the best weights).
_LOOPS: dict[PackShape, PackedLoop] = {}


def _loop(shape: PackShape) -> PackedLoop:
    if shape not in _LOOPS:
        _LOOPS[shape] = PackedLoop(shape)
    return _LOOPS[shape]


def _feed(runs: Sequence[PackRun], shape: PackShape) -> Feed:
    """The pack's per-run values as tensors (:class:`regdemo.train.packedloop.Feed`)."""

    def stacked(values: list, dtype: tf.DType = tf.float32) -> tf.Tensor:
        return tf.constant(np.stack(values), dtype)

    fixed = shape.order == "fixed"
    orders = [fit_permutation(shape.n_train, run.cfg.seed) if fixed else np.arange(shape.n_train) for run in runs]
    strengths = [run.cfg.model.regularizer.strengths() for run in runs]
    return Feed(
        x_train=stacked([run.data.x_train for run in runs]),
        y_train=stacked([run.data.y_train[:, None] for run in runs]),
        x_val=stacked([run.data.x_val for run in runs]),
        y_val=stacked([run.data.y_val[:, None] for run in runs]),
        orders=stacked(orders, tf.int32),
        seeds=tf.constant(np.array([run.cfg.seed for run in runs], np.int64).astype(np.int32)),  # wrapped: _SEEDS
        learning_rate=stacked([run.cfg.training.learning_rate for run in runs]),
        decay=stacked([run.cfg.training.decay() for run in runs]),
        l1=stacked([l1 for l1, _ in strengths]),
        l2=stacked([l2 for _, l2 in strengths]),
        stop=stop_feed([run.cfg.training.early_stopping for run in runs]),
        dropout_state=stacked([_dropout_state(run) for run in runs], tf.int64),
    )


def _dropout_state(run: PackRun) -> np.ndarray:
    """The run's Dropout layers' SeedGenerator states [seed, calls] (hidden layers, 2); zeros without dropout."""
    if not run.cfg.model.dropout:
        return np.zeros((len(run.cfg.model.hidden_units), 2), np.int64)
    layers = [layer for layer in run.model.layers if isinstance(layer, keras.layers.Dropout)]
    return np.stack([layer.seed_generator.state.numpy() for layer in layers]).astype(np.int64)


def _stacked_weights(runs: Sequence[PackRun]) -> list[np.ndarray]:
    """The runs' initial weights stacked: kernels (N, in, out), biases (N, 1, out)."""
    layers = zip(*(run.weights for run in runs), strict=True)
    return [np.stack([w if w.ndim == 2 else w[None, :] for w in ws]) for ws in layers]


def _first_bad_epoch(loss: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(loss))
    return int(bad[0]) if bad.size else None


def train_pack(runs: Sequence[PackRun], progress: EpochsDone | None = None) -> list[PackResult]:
    """Train ``runs`` (all of one :func:`pack_key`) together, ``CHUNK_EPOCHS`` epochs per call of the compiled
    program: each run with ``model.fit``'s batches (``training.shuffle``), penalty, Keras' optimizer formulas
    and early stopping (stopping where Keras stops, also on a chunk's last epoch). A run that stops early keeps
    its weights from then on (or gets its best ones back) and its history ends at that epoch; a run whose loss
    turns non-finite is cut after its first bad epoch and trains no further chunk (status ``diverged``); the
    others go on. ``progress`` gets
    the epochs the pack has done after each chunk; before it is called, each run's model (if it has one) gets
    the run's weights then (what a progress callback reading the model, such as TensorBoard's, sees).

    Each history's ``seconds`` is the pack's training time divided by its runs (each run's share). A run with
    a ``recorder`` records its snapshots as ``model.fit`` does (its model gets the run's weights at each
    snapshot epoch, the chunks end there; snapshots past a stop or a divergence are trimmed);
    its model holds its final weights at the end.
    """
    stack = [*runs, *[runs[0]] * (MIN_RUNS - len(runs))]  # a copy of the first run makes up a small pack
    shape = _shape(stack)
    loop, feed = _loop(shape), _feed(stack, shape)
    loop.reset(_stacked_weights(stack))
    started = time.perf_counter()
    tables: list[list[np.ndarray]] = [[] for _ in runs]
    running = np.ones(len(runs), bool)
    films = {epoch for run in runs if run.recorder for epoch in run.recorder.epochs}
    _record(runs, loop, np.flatnonzero(running), 0)
    for start, count in chunk_spans(runs[0].cfg.training.epochs, CHUNK_EPOCHS, films):
        orders = loop.chunk_orders(feed, start, count)
        chunk, done = loop.run_epochs(feed, orders, tf.constant(start, tf.int32), tf.constant(count, tf.int32))
        chunk = chunk.numpy()[: int(done)]
        going = loop.active.numpy()  # False for the runs early stopping stopped in this chunk
        whole = []  # the runs that trained the whole chunk, diverging in none of it: the film records them
        for i in np.flatnonzero(running):
            end = len(chunk) if going[i] else int(loop.stopper.stopped_epoch[i].numpy()) - start + 1
            bad = _first_bad_epoch(chunk[:end, i, 0])
            tables[i].append(chunk[: end if bad is None else bad + 1, i])
            running[i] = going[i] and bad is None
            if end == count and bad is None:
                whole.append(i)
        _record(runs, loop, whole, start + count)
        loop.active.assign(np.r_[running, running[:1].repeat(len(stack) - len(runs))])
        if progress:
            _sync(runs, loop)
            progress(start + len(chunk))
        if not running.any():
            break
    share = (time.perf_counter() - started) / len(runs)
    results = [_result(table, loop, i, run.cfg, share) for i, (table, run) in enumerate(zip(tables, runs, strict=True))]
    for run, result in zip(runs, results, strict=True):
        if run.recorder is not None:
            run.recorder.trim(result.history.epochs_run, result.history.status == "diverged")
            run.model.set_weights(result.weights)
    return results


def _weights(loop: PackedLoop, i: int, stacked: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Run ``i``'s weights in ``model.get_weights()`` order, from the stack (or from ``stacked``, one run's
    weights in the stack's layout): kernels (in, out) as they are, biases (1, out) → (out,)."""
    stacked = stacked if stacked is not None else [w.numpy()[i] for w in loop.weights]
    return [w if k % 2 == 0 else w[0] for k, w in enumerate(stacked)]


def _sync(runs: Sequence[PackRun], loop: PackedLoop) -> None:
    """Each run's model, where it has one, gets the run's weights now."""
    for i, run in enumerate(runs):
        if run.model is not None:
            run.model.set_weights(_weights(loop, i))


def _record(runs: Sequence[PackRun], loop: PackedLoop, which: Sequence[int], done: int) -> None:
    """The film's snapshot after ``done`` epochs of the runs ``which`` that have a recorder wanting it."""
    for i in which:
        recorder = runs[i].recorder
        if recorder is not None and done in recorder.epochs:
            runs[i].model.set_weights(_weights(loop, i))
            recorder.record(done)


def _result(table: list[np.ndarray], loop: PackedLoop, i: int, cfg: RunConfig, seconds: float) -> PackResult:
    """Run ``i``'s history (its rows, float64 as the engines' columns; its early stopping's epochs) and its
    weights out of the stack (its best ones if early stopping restores them)."""
    rows = np.concatenate(table)
    columns = {name: rows[:, c].astype(np.float64) for c, name in enumerate(COLUMNS)}
    status = "completed" if _first_bad_epoch(rows[:, 0]) is None else "diverged"
    history = History(columns, status, seconds)
    best = None
    stopping = cfg.training.early_stopping
    if loop.stopper is not None and stopping is not None:
        history.stopped_epoch, history.best_epoch, best = loop.stopper.finish(i, stopping.restore_best_weights)
    return PackResult(history, _weights(loop, i, best))
