"""Datasets: 2-D binary, seeded, and split exactly as Keras' validation_split."""

from __future__ import annotations

import numpy as np
import pytest
from keras.src.trainers.data_adapters.array_slicing import train_validation_split
from sklearn.datasets import make_moons

from regdemo.config.schema import DATASET_KINDS, DatasetConfig
from regdemo.train.datasets import load, make_dataset, split


@pytest.mark.parametrize("kind", [kind for kind in DATASET_KINDS if kind != "csv"])  # csv: test_userdata.py
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


def test_circles_factor_is_make_circles_factor_and_defaults_to_half() -> None:
    from sklearn.datasets import make_circles

    for factor, expected in ((None, 0.5), (0.8, 0.8)):
        x, y = make_dataset(DatasetConfig(kind="circles", n_samples=60, noise=0.0, random_state=1, factor=factor))
        radii = np.hypot(x[:, 0], x[:, 1])
        np.testing.assert_allclose(radii[y == 1], expected, rtol=1e-6)  # noise 0: the inner circle exactly
        ref, _ = make_circles(n_samples=60, noise=0.0, factor=expected, random_state=1)
        np.testing.assert_array_equal(x, ref.astype(np.float32))


def test_factor_is_only_for_circles() -> None:
    with pytest.raises(ValueError, match="only used when kind is circles"):
        DatasetConfig(kind="moons", factor=0.3)


def test_noise_features_are_extra_columns_that_leave_the_points_alone() -> None:
    plain = DatasetConfig(kind="moons", n_samples=200, noise=0.2, random_state=3)
    x, y = make_dataset(plain)
    wide, wide_y = make_dataset(plain.model_copy(update={"noise_features": 3}))
    assert wide.shape == (200, 5) and wide.dtype == np.float32
    np.testing.assert_array_equal(wide[:, :2], x)
    np.testing.assert_array_equal(wide_y, y)
    noise = wide[:, 2:].astype(np.float64)
    # N(0, s²), s the points' std: mean ~0 and std ~s (600 draws: 4 standard errors of each)
    s = float(np.std(x))
    assert abs(noise.mean()) < 4 * s / np.sqrt(noise.size)
    assert abs(noise.std() / s - 1) < 4 / np.sqrt(2 * noise.size)
    assert np.abs(np.corrcoef(np.c_[x, noise].T)[:2, 2:]).max() < 0.25  # unrelated to the points
    again, _ = make_dataset(plain.model_copy(update={"noise_features": 3}))
    np.testing.assert_array_equal(again, wide)
    split_data = load(plain.model_copy(update={"noise_features": 3, "test_split": 0.2}))
    assert split_data.n_inputs == 5 and split_data.x_all.shape == (200, 5) and split_data.x_test.shape == (40, 5)


@pytest.mark.parametrize(("n", "folds"), [(100, 5), (37, 4), (10, 10)])
def test_the_folds_cut_the_non_test_rows_into_contiguous_blocks_that_validate_in_turn(n: int, folds: int) -> None:
    from regdemo.config.schema import CVConfig

    cfg = DatasetConfig(n_samples=n + 5, test_split=0.05, random_state=1)
    x, _ = make_dataset(cfg)
    n = cfg.n_samples - cfg.n_test()
    seen = []
    for fold in range(folds):
        data = load(cfg.model_copy(update={"cv": CVConfig(folds=folds, fold=fold)}))
        np.testing.assert_array_equal(data.x_test, x[n:])  # the test rows never move
        rest = np.concatenate([data.x_train, data.x_val])
        assert len(rest) == n and {tuple(r) for r in rest} == {tuple(r) for r in x[:n]}
        start = sum(len(b) for b in seen)
        np.testing.assert_array_equal(data.x_val, x[start : start + len(data.x_val)])  # a contiguous block
        seen.append(data.x_val)
    sizes = [len(b) for b in seen]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1  # every row validates once, blocks of equal size


def test_a_fold_must_be_set_to_load() -> None:
    from regdemo.config.schema import CVConfig

    with pytest.raises(ValueError, match=r"dataset.cv.fold: not set"):
        load(DatasetConfig(cv=CVConfig(folds=3)))
    with pytest.raises(ValueError, match="must be < folds"):
        CVConfig(folds=3, fold=3)
    with pytest.raises(ValueError, match="more folds than"):
        DatasetConfig(n_samples=10, test_split=0.5, cv=CVConfig(folds=6))
