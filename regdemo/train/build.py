"""Config → trained model: seed, load the dataset, build the model, train it with the configured engine
(:func:`regdemo.train.trainer.train_model`).

:func:`prepare` (:mod:`regdemo.train.start`) and :func:`train_run` are the one way a config becomes a trained
model: runs, tests and benchmarks all go through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from regdemo.config.schema import RunConfig
from regdemo.train.datasets import Split
from regdemo.train.engines import EpochsDone
from regdemo.train.history import History
from regdemo.train.start import prepare
from regdemo.train.trainer import train_model

__all__ = ["Trained", "prepare", "train_run"]


@dataclass
class Trained:
    """A model trained from a run's config, the data it was trained on, and its history."""

    model: keras.Model
    data: Split
    history: History


def train_run(
    cfg: RunConfig, on_epochs: EpochsDone | None = None, initial_weights: Sequence[np.ndarray] | None = None
) -> Trained:
    """:func:`prepare`, then train with the configured engine."""
    model, data = prepare(cfg, initial_weights)
    return Trained(model, data, train_model(cfg, model, data, on_epochs))
