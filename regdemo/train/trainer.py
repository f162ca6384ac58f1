"""A prepared run trained with its configured engine: the one call the rest of the package makes.

``engine: compiled`` is the packed engine (:mod:`regdemo.train.packed`) with a pack of one run, so a run
trains alone exactly as it trains in any pack; ``engine: fit`` is plain ``model.fit``
(:func:`regdemo.train.engines.train_fit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras

from regdemo.config.schema import RunConfig
from regdemo.train.datasets import Split
from regdemo.train.engines import EpochsDone, train_fit
from regdemo.train.history import History
from regdemo.train.packed import PackRun, pack_key, train_pack
from regdemo.train.snapshots import Recorder


def train_model(
    cfg: RunConfig,
    model: keras.Model,
    data: Split,
    progress: EpochsDone | None = None,
    recorder: Recorder | None = None,
) -> History:
    """Train ``model`` (as :func:`regdemo.train.start.prepare` built it for ``cfg``) on ``data`` with
    ``cfg.training.engine``; ``model`` holds the final weights at the end. ``progress`` gets the epochs done;
    a ``recorder`` keeps the film's snapshots (its epochs past the end of a stopped or diverged run dropped)."""
    if cfg.training.engine == "fit":
        history = train_fit(model, data, cfg.training, cfg.seed, progress, recorder)
        if recorder:
            recorder.trim(history.epochs_run, history.status == "diverged")
        return history
    if pack_key(cfg) is None:  # the schema admits no such compiled run; a guard against a future option
        raise ValueError(f"{cfg.name}: the compiled engine cannot train this run")
    [history] = train_together([Prepared(cfg, model, data, recorder)], progress)
    return history


@dataclass(frozen=True)
class Prepared:
    """A run ready to train: its config, its model as :func:`regdemo.train.start.prepare` built it, its data,
    and the film's recorder of that model (None without ``plots.snapshots``)."""

    config: RunConfig
    model: keras.Model
    data: Split
    recorder: Recorder | None


def train_together(runs: Sequence[Prepared], progress: EpochsDone | None = None) -> list[History]:
    """Train ``runs`` (one :func:`regdemo.train.packing.pack_key`) in one pack (:func:`train_pack`); each
    model holds its run's final weights at the end. A run's numbers do not depend on its company."""
    packed = [PackRun(run.config, run.data, run.model.get_weights(), run.model, run.recorder) for run in runs]
    results = train_pack(packed, progress)
    for run, result in zip(runs, results, strict=True):
        run.model.set_weights(result.weights)
    return [result.history for result in results]
