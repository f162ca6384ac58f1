"""The 2-D binary datasets and their split: held-out test rows, then Keras' train/validation split."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from regdemo.config.schema import DatasetConfig


def _no_rows(*shape: int) -> np.ndarray:
    return np.zeros((0, *shape), dtype=np.float32)


@dataclass(frozen=True)
class Split:
    """Train, validation and test arrays: ``x_*`` of shape (n, 2) float32, ``y_*`` of shape (n,) float32.

    The test arrays have 0 rows unless ``dataset.test_split`` holds rows out.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray = field(default_factory=lambda: _no_rows(2))
    y_test: np.ndarray = field(default_factory=_no_rows)

    @property
    def x_all(self) -> np.ndarray:
        """Every row's point, train then validation then test: shape (n_samples, 2)."""
        return np.concatenate([self.x_train, self.x_val, self.x_test])


def _xor(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]², label 1 where x·y > 0, jittered by ``noise`` after labelling."""
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    return x + rng.normal(scale=noise, size=x.shape), y


def _spiral(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms of an Archimedean spiral (TensorFlow Playground's 'spiral')."""
    y = np.arange(n) % 2
    t = rng.uniform(0.25, 1.0, size=n) * 3 * np.pi
    angle = t + np.pi * y
    x = np.c_[t * np.cos(angle), t * np.sin(angle)] / (3 * np.pi)
    x = x + rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def _linear(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]², label 1 above the line y = 0.5·x, jittered by ``noise``."""
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 1] > 0.5 * x[:, 0]).astype(int)
    return x + rng.normal(scale=noise, size=x.shape), y


def make_dataset(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """All rows of the configured dataset: ``x`` of shape (n_samples, 2), ``y`` of shape (n_samples,).

    ``moons`` is exactly scikit-learn's ``make_moons`` (the lecture's data); ``circles`` and
    ``gaussians`` are scikit-learn's generators; ``xor``, ``spiral`` and ``linear`` follow
    TensorFlow Playground's shapes. ``noise`` is the standard deviation of Gaussian jitter
    (for ``gaussians``: the spread of each blob).
    """
    # scikit-learn is imported here, not at the top: readers of saved runs need only Split, and a
    # worker pool's driver should not pay for scikit-learn.
    from sklearn.datasets import make_blobs, make_circles, make_moons
    from sklearn.utils import check_random_state

    n, noise, seed = cfg.n_samples, cfg.noise, cfg.random_state
    if cfg.kind == "moons":
        x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    elif cfg.kind == "circles":
        x, y = make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    elif cfg.kind == "gaussians":
        x, y = make_blobs(n_samples=n, centers=[(-1, -1), (1, 1)], cluster_std=noise, random_state=seed)
    else:
        generator = {"xor": _xor, "spiral": _spiral, "linear": _linear}[cfg.kind]
        x, y = generator(n, noise, check_random_state(seed))
    return x.astype(np.float32), y.astype(np.float32)


def split(x: np.ndarray, y: np.ndarray, validation_split: float) -> Split:
    """Keras' ``validation_split``: the last rows validate, taken before any shuffling.

    Uses Keras' own cut, ``split_at = floor(n · (1 − validation_split))``.
    """
    split_at = math.floor(len(x) * (1.0 - validation_split))
    return Split(x[:split_at], y[:split_at], x[split_at:], y[split_at:])


def load(cfg: DatasetConfig) -> Split:
    """The configured dataset: the last ``test_split`` share of the rows held out as the test set
    (:meth:`DatasetConfig.n_test` rows), then Keras' ``validation_split`` of the rows left, as a script
    that holds out a test set and then calls ``fit(validation_split=...)`` would. Without a test set this
    is exactly Keras' split."""
    x, y = make_dataset(cfg)
    rest = len(x) - cfg.n_test()
    kept = split(x[:rest], y[:rest], cfg.validation_split)
    return Split(kept.x_train, kept.y_train, kept.x_val, kept.y_val, x[rest:], y[rest:])
