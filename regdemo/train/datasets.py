"""The 2-D binary datasets and their split: held-out test rows, then Keras' train/validation split (or one
fold of k-fold cross-validation); and the noise inputs of ``dataset.noise_features``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regdemo.config.schema import DatasetConfig
from regdemo.train import playground


def _no_rows(*shape: int) -> np.ndarray:
    return np.zeros((0, *shape), dtype=np.float32)


@dataclass(frozen=True)
class Split:
    """Train, validation and test arrays: ``x_*`` of shape (n, inputs) float32, ``y_*`` of shape (n,) float32.

    ``inputs`` is 2 (the point) plus ``dataset.noise_features`` noise columns after them. The test arrays
    have 0 rows unless ``dataset.test_split`` holds rows out.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray = field(default_factory=lambda: _no_rows(2))
    y_test: np.ndarray = field(default_factory=_no_rows)

    @property
    def x_all(self) -> np.ndarray:
        """Every row, train then validation then test: shape (n_samples, inputs)."""
        # an empty side may be (0, 2) whatever the inputs: an older plot_data.npz has no test arrays
        return np.concatenate([x for x in (self.x_train, self.x_val, self.x_test) if len(x)] or [self.x_train])

    @property
    def n_inputs(self) -> int:
        """Input columns: 2, plus the noise inputs."""
        return int(self.x_train.shape[1])


def _xor(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]², label 1 where x·y > 0 (no padding from the axes), then every point
    jittered by Gaussian noise of std ``noise`` after labelling (so noise moves points across the rule;
    Playground's xor keeps points and flips labels instead)."""
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    return x + rng.normal(scale=noise, size=x.shape), y


def _spiral(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms of an Archimedean spiral, r = t/(3π) for t ~ U(0.75π, 3π): 1.125 turns from
    r = 0.25 to 1, the second arm the first turned by π, points drawn at random along the arm, then jittered
    by Gaussian noise of std ``noise`` (Playground's spiral makes 1.75 turns from the centre to r = 5)."""
    y = np.arange(n) % 2
    t = rng.uniform(0.25, 1.0, size=n) * 3 * np.pi
    angle = t + np.pi * y
    x = np.c_[t * np.cos(angle), t * np.sin(angle)] / (3 * np.pi)
    x = x + rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def _linear(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]², label 1 above the line y = 0.5·x, then jittered by Gaussian noise of std
    ``noise`` (regdemo's own; Playground has no linear classification set)."""
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 1] > 0.5 * x[:, 0]).astype(int)
    return x + rng.normal(scale=noise, size=x.shape), y


def _user_points(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """kind csv: the file's points, rows shuffled by ``random_state``; the file must still have the hash the
    config recorded when it was loaded."""
    from regdemo.config.userdata import read_points

    points = read_points(Path(cfg.path), cfg.columns, cfg.label)
    if cfg.sha256 is not None and points.sha256 != cfg.sha256:
        raise ValueError(f"{cfg.path}: changed since the config was loaded (SHA-256 {points.sha256}, not {cfg.sha256})")
    order = np.random.RandomState(cfg.random_state).permutation(len(points.x))
    return points.x[order], points.y[order]


def points(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """All rows of the configured dataset's points: ``x`` of shape (n_samples, 2), ``y`` of shape (n_samples,).

    ``moons`` is exactly scikit-learn's ``make_moons`` (the lecture's data); ``circles`` (``factor``, default
    0.5) and ``gaussians`` are scikit-learn's generators; ``xor``, ``spiral`` and ``linear`` are regdemo's own
    (below; ``noise`` is the standard deviation of Gaussian jitter, for ``gaussians`` the spread of each
    blob); ``playground_*`` are TensorFlow Playground's, exactly (:mod:`regdemo.train.playground`; noise is its
    slider / 100); ``csv`` is the user's file (:mod:`regdemo.config.userdata`).
    """
    # scikit-learn is imported here, not at the top: readers of saved runs need only Split, and a
    # worker pool's driver should not pay for scikit-learn.
    from sklearn.datasets import make_blobs, make_circles, make_moons
    from sklearn.utils import check_random_state

    n, noise, seed = cfg.n_samples, cfg.noise, cfg.random_state
    if cfg.kind == "moons":
        x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    elif cfg.kind == "circles":
        factor = 0.5 if cfg.factor is None else cfg.factor
        x, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    elif cfg.kind == "gaussians":
        x, y = make_blobs(n_samples=n, centers=[(-1, -1), (1, 1)], cluster_std=noise, random_state=seed)
    elif cfg.kind in playground.GENERATORS:
        x, y = playground.make(cfg.kind, n, noise, seed)
    elif cfg.kind == "csv":
        x, y = _user_points(cfg)
    else:
        generator = {"xor": _xor, "spiral": _spiral, "linear": _linear}[cfg.kind]
        x, y = generator(n, noise, check_random_state(seed))
    return x.astype(np.float32), y.astype(np.float32)


# The noise inputs' own stream: seeded by (random_state, this), so they never change the points.
NOISE_STREAM = 1


def noise_columns(x: np.ndarray, count: int, random_state: int) -> np.ndarray:
    """``count`` columns of pure noise for the points ``x`` (n, 2): shape (n, count), float32.

    Each entry is drawn independently from N(0, s²), s the standard deviation of ``x``'s values (both
    columns pooled), so a noise input has the scale of the informative ones and cannot be told apart
    by its size; centred on 0, so the boundary plot's slice (noise inputs at 0) is their mean. Drawn
    from ``numpy.random.default_rng([random_state, NOISE_STREAM])``: the same rows for the same seed.
    """
    rng = np.random.default_rng([random_state, NOISE_STREAM])
    return (rng.standard_normal((len(x), count)) * float(np.std(x))).astype(np.float32)


def make_dataset(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """All rows: ``x`` of shape (n_samples, 2 + noise_features) (the points of :func:`points`, then the noise
    inputs of :func:`noise_columns`), ``y`` of shape (n_samples,)."""
    x, y = points(cfg)
    if cfg.noise_features:
        x = np.concatenate([x, noise_columns(x, cfg.noise_features, cfg.random_state)], axis=1)
    return x, y


def split(x: np.ndarray, y: np.ndarray, validation_split: float) -> Split:
    """Keras' ``validation_split``: the last rows validate, taken before any shuffling.

    Uses Keras' own cut, ``split_at = floor(n · (1 − validation_split))``.
    """
    split_at = math.floor(len(x) * (1.0 - validation_split))
    return Split(x[:split_at], y[:split_at], x[split_at:], y[split_at:])


def fold_split(x: np.ndarray, y: np.ndarray, folds: int, fold: int) -> Split:
    """Fold ``fold`` of ``folds`` (k-fold cross-validation): scikit-learn's ``KFold(folds)`` without shuffling,
    its ``fold``-th block of contiguous rows validating, the other rows training (in their order)."""
    from sklearn.model_selection import KFold

    train, val = list(KFold(folds).split(x))[fold]
    return Split(x[train], y[train], x[val], y[val])


def load(cfg: DatasetConfig) -> Split:
    """The configured dataset: the last ``test_split`` share of the rows held out as the test set
    (:meth:`DatasetConfig.n_test` rows), then Keras' ``validation_split`` of the rows left, as a script
    that holds out a test set and then calls ``fit(validation_split=...)`` would; with ``cv``, the rows
    left cut into folds instead (:func:`fold_split`). Without a test set or folds this is exactly Keras'
    split."""
    x, y = make_dataset(cfg)
    rest = len(x) - cfg.n_test()
    if cfg.cv is not None:
        if cfg.cv.fold is None:
            raise ValueError("dataset.cv.fold: not set (loading a config expands dataset.cv into one run per fold)")
        kept = fold_split(x[:rest], y[:rest], cfg.cv.folds, cfg.cv.fold)
    else:
        kept = split(x[:rest], y[:rest], cfg.validation_split)
    return Split(kept.x_train, kept.y_train, kept.x_val, kept.y_val, x[rest:], y[rest:])
