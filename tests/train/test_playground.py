"""TensorFlow Playground's datasets (regdemo.train.playground), tested against the statistics of the original
generator, tensorflow/playground src/dataset.ts, worked out from its rules, not from regdemo's code: the radii
per class, the share of labels contradicting the noiseless rule, the ranges, the class balance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regdemo.config.schema import PLAYGROUND_BOX, DatasetConfig, RunConfig
from regdemo.train.datasets import make_dataset

SEEDS = range(8)  # 8 × 500 = 4,000 points per statistic


def _points(kind: str, noise: float, n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_dataset(DatasetConfig(kind=kind, n_samples=n, noise=noise, random_state=seed))
    return x.astype(np.float64), y


def _pooled(kind: str, noise: float) -> tuple[np.ndarray, np.ndarray]:
    parts = [_points(kind, noise, seed=s) for s in SEEDS]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _within(share: float, expected: float, n: int) -> bool:
    """``share`` of ``n`` draws within 4 standard errors of ``expected``."""
    return abs(share - expected) <= 4 * math.sqrt(expected * (1 - expected) / n) + 1e-12


# ---------------------------------------------------------------- circle


def test_circle_noiseless_radii_per_class_and_balance() -> None:
    """classifyCircleData: n/2 points at r ~ U(0, 2.5) labelled 1, n/2 at r ~ U(3.5, 5) labelled −1 (here 0)."""
    x, y = _points("playground_circle", 0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert (y == 1).sum() == 250 and (y == 0).sum() == 250
    assert r[y == 1].max() < 2.5 and r[y == 0].min() >= 3.5 and r[y == 0].max() <= 5.0
    # r is uniform (not the area): its mean is the interval's middle, 1.25 and 4.25
    assert abs(r[y == 1].mean() - 1.25) < 4 * 2.5 / math.sqrt(12 * 250)
    assert abs(r[y == 0].mean() - 4.25) < 4 * 1.5 / math.sqrt(12 * 250)


def _circle_flip_share(noise: float) -> float:
    """The share of circle labels that contradict r < 2.5, by quadrature of dataset.ts' rule: a point at radius r
    (U(0, 2.5) or U(3.5, 5)) and angle θ is labelled by the point moved by (nx, ny) ~ U(−5·noise, 5·noise)²."""
    half = 5 * noise
    mid = (np.arange(40) + 0.5) / 40  # midpoints on [0, 1]
    theta = 2 * np.pi * mid[:, None, None, None]
    nx = (2 * mid[None, :, None, None] - 1) * half
    ny = (2 * mid[None, None, :, None] - 1) * half
    shares = []
    for low, high, inside in ((0.0, 2.5, True), (3.5, 5.0, False)):
        r = (low + (high - low) * mid)[None, None, None, :]
        moved = np.hypot(r * np.sin(theta) + nx, r * np.cos(theta) + ny) < 2.5
        shares.append(float(np.mean(moved != inside)))
    return float(np.mean(shares))  # half the points from each class


@pytest.mark.parametrize("noise", [0.25, 0.5])
def test_circle_noise_flips_labels_and_leaves_the_points(noise: float) -> None:
    x, y = _pooled("playground_circle", noise)
    r = np.hypot(x[:, 0], x[:, 1])
    assert not ((r >= 2.5) & (r < 3.5)).any()  # points stay at their drawn radius: the gap stays empty
    contradicting = float(np.mean((r < 2.5) != (y == 1)))
    assert contradicting > 0
    assert _within(contradicting, _circle_flip_share(noise), len(y))


# ---------------------------------------------------------------- xor


def _xor_flip_share(noise: float) -> float:
    """Closed form of classifyXORData's contradicting labels: |x| ~ U(0.3, 5.3) after the 0.3 padding, its noise
    U(−5a, 5a); the sign flips when the noise is opposite and larger: p = ½·E[max(0, 1 − |x|/(5a))]. The label
    (sign of the product) is wrong when exactly one coordinate flips: 2p(1 − p)."""
    a5 = 5 * noise
    top = min(5.3, a5)
    integral = max(0.0, (top - 0.3) - (top**2 - 0.3**2) / (2 * a5)) if a5 > 0.3 else 0.0
    p = 0.5 * integral / 5.0
    return 2 * p * (1 - p)


def test_xor_noiseless_is_the_sign_rule_padded_from_the_axes() -> None:
    x, y = _points("playground_xor", 0.0)
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(float))
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize("noise", [0.25, 0.5])
def test_xor_noise_flips_labels_at_the_closed_form_rate(noise: float) -> None:
    x, y = _pooled("playground_xor", noise)
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3  # the points themselves do not move
    contradicting = float(np.mean((x[:, 0] * x[:, 1] >= 0) != (y == 1)))
    assert _within(contradicting, _xor_flip_share(noise), len(y))
    assert _xor_flip_share(0.5) == pytest.approx(0.17486, abs=1e-4)  # the figure worked out by hand


# ---------------------------------------------------------------- gauss


@pytest.mark.parametrize(("noise", "variance"), [(0.0, 0.5), (0.25, 2.25), (0.5, 4.0)])
def test_gauss_blobs_have_the_variance_of_the_slider(noise: float, variance: float) -> None:
    """classifyTwoGaussData: d3.scale.linear().domain([0, .5]).range([0.5, 4]) of the noise is each coordinate's
    variance, around (2, 2) for label 1 and (−2, −2) for −1; n/2 points each."""
    x, y = _pooled("playground_gauss", noise)
    assert (y == 1).sum() == (y == 0).sum() == 250 * len(SEEDS)
    for label, centre in ((1, 2.0), (0, -2.0)):
        side = x[y == label]
        n = len(side)
        assert np.abs(side.mean(axis=0) - centre).max() < 4 * math.sqrt(variance / n)
        # the sample variance of n normals: standard error variance·√(2/(n − 1))
        assert np.abs(side.var(axis=0, ddof=1) - variance).max() < 4 * variance * math.sqrt(2 / (n - 1))


# ---------------------------------------------------------------- spiral


def test_spiral_noiseless_lies_on_its_arms() -> None:
    """classifySpiralData: arm i of n/2 points at r = 5·i/(n/2), t = 1.75·2π·i/(n/2) (+π for the second arm),
    point (r·sin t, r·cos t): 1.75 turns from the centre out to r < 5."""
    n = 500
    x, y = _points("playground_spiral", 0.0, n=n)
    assert (y == 1).sum() == (y == 0).sum() == n // 2
    for label, shift in ((1, 0.0), (0, math.pi)):
        arm = x[y == label]
        r = np.hypot(arm[:, 0], arm[:, 1])
        steps = np.sort(np.round(r / 5 * (n / 2)))
        np.testing.assert_array_equal(steps, np.arange(n // 2))  # every radius 5·i/(n/2) once
        t = 1.75 * 2 * np.pi * r / 5 + shift
        on = r > 1e-9
        np.testing.assert_allclose(arm[on, 0], r[on] * np.sin(t[on]), atol=1e-5)
        np.testing.assert_allclose(arm[on, 1], r[on] * np.cos(t[on]), atol=1e-5)


def test_spiral_noise_jitters_each_coordinate_within_the_noise() -> None:
    clean, y0 = _points("playground_spiral", 0.0, seed=3)
    noisy, y1 = _points("playground_spiral", 0.5, seed=3)
    # the same stream: the same shuffle, so row k is the same point of the same arm, jittered by U(−0.5, 0.5)
    np.testing.assert_array_equal(y0, y1)
    jitter = noisy - clean
    assert np.abs(jitter).max() <= 0.5 and np.abs(jitter).max() > 0.45
    assert abs(jitter.mean()) < 4 * 0.5 / math.sqrt(3 * jitter.size)


# ---------------------------------------------------------------- shared rules


@pytest.mark.parametrize("kind", ["playground_circle", "playground_xor", "playground_gauss", "playground_spiral"])
def test_rows_are_shuffled_after_generation_and_seeded(kind: str) -> None:
    _, y = _points(kind, 0.1, seed=1)
    # generated class by class (circle, gauss, spiral): unshuffled, the first half would be all one label
    assert 0.3 < y[:250].mean() < 0.7
    again, _ = _points(kind, 0.1, seed=1)
    other, _ = _points(kind, 0.1, seed=2)
    assert np.array_equal(_points(kind, 0.1, seed=1)[0], again) and not np.array_equal(again, other)


def test_playground_noise_is_the_slider_over_100_and_its_box_the_default_plot() -> None:
    with pytest.raises(ValueError, match=r"must be <= 0.5 for playground_xor \(Playground's slider / 100\)"):
        DatasetConfig(kind="playground_xor", noise=0.6)
    with pytest.raises(ValueError, match="must be even for playground_circle"):
        DatasetConfig(kind="playground_circle", n_samples=501)
    DatasetConfig(kind="playground_xor", n_samples=501)  # xor draws point by point: any count
    run = RunConfig(name="p", experiment="p", dataset={"kind": "playground_spiral"})
    assert run.plots.boundary.xlim == run.plots.boundary.ylim == list(PLAYGROUND_BOX) == [-6.0, 6.0]
    mine = RunConfig(
        name="p", experiment="p", dataset={"kind": "playground_spiral"}, plots={"boundary": {"xlim": [-1, 1]}}
    )
    assert mine.plots.boundary.xlim == [-1, 1] and mine.plots.boundary.ylim == [-6.0, 6.0]
    assert RunConfig(name="p", experiment="p").plots.boundary.xlim is None  # other kinds: the data's range
