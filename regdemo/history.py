"""The per-epoch record of a run: its column names and :class:`History`.

The same seven names are the keys of a run's ``final`` numbers (metrics.json) and of its summary
columns, so they are spelled here once. No TensorFlow: readers of saved runs import this too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# One row per epoch; ``loss = data_loss + penalty`` (Keras' meaning: the penalty is inside both losses).
COLUMNS = ("loss", "val_loss", "data_loss", "val_data_loss", "penalty", "accuracy", "val_accuracy")


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
