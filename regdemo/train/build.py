"""Config → trained model: seed, load the dataset, build the model, train it with the configured engine.

:func:`prepare` and :func:`train_run` are the one way a config becomes a trained model: runs, tests and
benchmarks all go through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from regdemo.config.schema import RunConfig
from regdemo.train import datasets
from regdemo.train.datasets import Split
from regdemo.train.engines import EpochsDone, train
from regdemo.train.history import History
from regdemo.train.models import build_model


@dataclass
class Trained:
    """A model trained from a run's config, the data it was trained on, and its history."""

    model: keras.Model
    data: Split
    history: History


def prepare(cfg: RunConfig, initial_weights: Sequence[np.ndarray] | None = None) -> tuple[keras.Model, Split]:
    """Seed everything with ``cfg.seed`` (``keras.utils.set_random_seed``), load the dataset and build
    the model, in that order (the order fixes the initial weights); ``initial_weights`` replace them."""
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model, data.n_inputs)
    if initial_weights is not None:
        model.set_weights(list(initial_weights))
    return model, data


def train_run(
    cfg: RunConfig, on_epochs: EpochsDone | None = None, initial_weights: Sequence[np.ndarray] | None = None
) -> Trained:
    """:func:`prepare`, then train with the configured engine."""
    model, data = prepare(cfg, initial_weights)
    return Trained(model, data, train(model, data, cfg.training, cfg.seed, on_epochs))
