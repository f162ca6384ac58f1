"""A run's start: seed everything, load the dataset, build the model (the order fixes the initial weights).

Its own module so that the packed engine (:mod:`regdemo.train.packed`) and the one way a config becomes a
trained model (:mod:`regdemo.train.build`) both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from regdemo.config.schema import RunConfig
from regdemo.train import datasets
from regdemo.train.datasets import Split
from regdemo.train.models import build_model


def prepare(cfg: RunConfig, initial_weights: Sequence[np.ndarray] | None = None) -> tuple[keras.Model, Split]:
    """Seed everything with ``cfg.seed`` (``keras.utils.set_random_seed``), load the dataset and build
    the model, in that order (the order fixes the initial weights); ``initial_weights`` replace them."""
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model, data.n_inputs)
    if initial_weights is not None:
        model.set_weights(list(initial_weights))
    return model, data
