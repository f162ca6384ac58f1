"""Shared fixtures: tiny configs that train in well under a second."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

REPO = Path(__file__).resolve().parents[1]

# Small on purpose: tests check numbers and behaviour, not the lecture's scale.
TINY = """\
name: tiny
seed: 3
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model:
  hidden_units: [16, 8]
  activation: relu
  regularizer: {kind: none, lambda: 0.0}
training: {optimizer: adam, learning_rate: 0.01, epochs: 30, batch_size: 16, engine: compiled}
plots: {boundary: {xlim: [-2, 3], ylim: [-1.5, 2], resolution: 24}}
runs:
  - name: none
  - name: l2
    model: {regularizer: {kind: l2, lambda: 0.01}}
  - name: l1
    model: {regularizer: {kind: l1, lambda: 0.01}}
"""


@pytest.fixture(scope="session", autouse=True)
def _tensorflow() -> None:
    from regdemo.train.tfsetup import load_tensorflow

    load_tensorflow()


@pytest.fixture
def write_config(tmp_path: Path):
    """Write YAML text to a file under tmp_path and return its path."""

    def write(text: str = TINY, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def initial_weights(cfg) -> list:
    """Weights of a fresh model for ``cfg`` drawn from seed 0: the shared start of engine comparisons."""
    from regdemo.train.build import prepare

    return prepare(cfg.model_copy(update={"seed": 0}))[0].get_weights()


def train_run(cfg, initial: list | None = None, progress=None):
    """Train ``cfg`` the way every run is trained (from ``initial`` weights if given): (model, data, history)."""
    from regdemo.train.build import train_run as train

    trained = train(cfg, progress, initial)
    return trained.model, trained.data, trained.history


def assert_same_training(ours, theirs, weights: tuple[float, float] = (1e-5, 1e-6)) -> None:
    """Two (model, data, history) results hold the same history and weights within float32 tolerance
    (``weights``: the weights' rtol and atol)."""
    import numpy as np

    from regdemo.columns import COLUMNS

    for name in COLUMNS:
        np.testing.assert_allclose(ours[2].columns[name], theirs[2].columns[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for a, b in zip(ours[0].get_weights(), theirs[0].get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=weights[0], atol=weights[1])


def cmdline(pid: int) -> str:
    """A process's command line, its arguments joined by spaces (empty once it is gone)."""
    import psutil

    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def descendants(pid: int) -> set[int]:
    """The processes below ``pid``: children, their children, and so on (empty once it is gone)."""
    import psutil

    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()
