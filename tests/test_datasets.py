"""Datasets: 2-D binary, seeded, and split exactly as Keras' validation_split."""

from __future__ import annotations

import numpy as np
import pytest
from keras.src.trainers.data_adapters.array_slicing import train_validation_split
from sklearn.datasets import make_moons

from regdemo.config.schema import DATASET_KINDS, DatasetConfig
from regdemo.train.datasets import load, make_dataset, split


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_every_kind_is_2d_binary_balanced_enough_and_seeded(kind: str) -> None:
    cfg = DatasetConfig(kind=kind, n_samples=80, noise=0.1, random_state=4)
    x, y = make_dataset(cfg)
    assert x.shape == (80, 2) and y.shape == (80,) and x.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0}
    assert 0.2 < y.mean() < 0.8
    again, _ = make_dataset(cfg)
    other, _ = make_dataset(DatasetConfig(kind=kind, n_samples=80, noise=0.1, random_state=5))
    assert np.array_equal(x, again) and not np.array_equal(x, other)


def test_moons_is_exactly_the_lectures_make_moons() -> None:
    x, y = make_dataset(DatasetConfig(kind="moons", n_samples=100, noise=0.25, random_state=2))
    ref_x, ref_y = make_moons(n_samples=100, noise=0.25, random_state=2)
    np.testing.assert_array_equal(x, ref_x.astype(np.float32))
    np.testing.assert_array_equal(y, ref_y)


@pytest.mark.parametrize(("n", "fraction"), [(100, 0.2), (101, 0.2), (60, 0.25), (7, 0.3), (10, 0.85)])
def test_split_takes_the_last_rows_exactly_like_keras(n: int, fraction: float) -> None:
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.float32)
    ours = split(x, y, fraction)
    (kx, ky), (vx, vy) = train_validation_split((x, y), validation_split=fraction)
    for mine, theirs in zip((ours.x_train, ours.y_train, ours.x_val, ours.y_val), (kx, ky, vx, vy), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert len(ours.x_train) + len(ours.x_val) == n


def test_load_splits_the_configured_data() -> None:
    data = load(DatasetConfig(n_samples=100, validation_split=0.2))
    assert (len(data.x_train), len(data.x_val)) == (80, 20)
