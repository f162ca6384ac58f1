"""A run's per-epoch record, as the engines return it (its columns are named in :mod:`regdemo.columns`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Per-epoch training record: each column an array of shape (epochs_run,).

    ``stopped_epoch``: the epoch (from 1) after which early stopping ended the run, None if it did not;
    ``best_epoch``: the epoch (from 1) with the best monitored value, None without early stopping.
    """

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    status: str = "completed"
    seconds: float = 0.0
    stopped_epoch: int | None = None
    best_epoch: int | None = None

    @property
    def epochs_run(self) -> int:
        return len(self.columns["loss"])
