"""TensorFlow Playground's four classification datasets, ported from its ``src/dataset.ts`` line by line.

Ported from tensorflow/playground (Apache 2.0) ``src/dataset.ts`` (``classifyCircleData``,
``classifyXORData``, ``classifyTwoGaussData``, ``classifySpiralData``, ``shuffle``, ``randUniform``,
``normalRandom``) and ``src/playground.ts`` (``generateData``: generate, then shuffle). Every
``Math.random()`` call there is one :meth:`random.Random.random` call here, in the same order, so the
algorithm is Playground's; the numbers differ only because the stream does (Playground seeds
seedrandom's ARC4 with a string, regdemo seeds Python's Mersenne Twister with ``random_state``).

Playground's conventions, kept: coordinates in its [-6, 6] box; ``noise`` is the slider's value / 100
(0 … 0.5); labels ±1 (here 1 → 1, −1 → 0); half the points generated as each class (circle, gauss,
spiral), the rows shuffled after generation. In circle and xor the noise moves the point that is
*labelled*, not the point that is stored: the points stay where they were drawn and some labels
contradict the noiseless rule. Spiral jitters the stored point; gauss widens its blobs.
"""

from __future__ import annotations

import math
import random

import numpy as np

Points = list[tuple[float, float, int]]  # (x, y, label ±1), Playground's Example2D


def _uniform(rng: random.Random, a: float, b: float) -> float:
    """randUniform: a sample of U[a, b)."""
    return rng.random() * (b - a) + a


def _normal(rng: random.Random, mean: float, variance: float) -> float:
    """normalRandom: Marsaglia's polar method, one of its two normals used (as Playground does)."""
    while True:
        v1 = 2 * rng.random() - 1
        v2 = 2 * rng.random() - 1
        s = v1 * v1 + v2 * v2
        if 0 < s <= 1:  # Playground loops while s > 1; s = 0 (probability 2⁻¹⁰⁴) would divide by zero
            break
    return mean + math.sqrt(variance) * math.sqrt(-2 * math.log(s) / s) * v1


def circle(n: int, noise: float, rng: random.Random) -> Points:
    """classifyCircleData: n/2 points at radius U(0, 2.5) and n/2 at U(3.5, 5), each labelled by whether the
    point moved by noise·U(−5, 5)² lies within 2.5 of the centre."""
    radius = 5.0
    points: Points = []

    def label(x: float, y: float) -> int:
        return 1 if math.hypot(x, y) < radius * 0.5 else -1

    for low, high in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        i = 0
        while i < n / 2:
            r = _uniform(rng, low, high)
            angle = _uniform(rng, 0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            noise_x = _uniform(rng, -radius, radius) * noise
            noise_y = _uniform(rng, -radius, radius) * noise
            points.append((x, y, label(x + noise_x, y + noise_y)))
            i += 1
    return points


def xor(n: int, noise: float, rng: random.Random) -> Points:
    """classifyXORData: U(−5, 5)² pushed 0.3 away from both axes, labelled 1 where (x + nx)·(y + ny) ≥ 0 for the
    noise nx, ny = noise·U(−5, 5)."""
    points: Points = []
    padding = 0.3
    for _ in range(n):
        x = _uniform(rng, -5, 5)
        x += padding if x > 0 else -padding
        y = _uniform(rng, -5, 5)
        y += padding if y > 0 else -padding
        noise_x = _uniform(rng, -5, 5) * noise
        noise_y = _uniform(rng, -5, 5) * noise
        points.append((x, y, 1 if (x + noise_x) * (y + noise_y) >= 0 else -1))
    return points


def gauss(n: int, noise: float, rng: random.Random) -> Points:
    """classifyTwoGaussData: n/2 normal points around (2, 2) labelled 1, n/2 around (−2, −2) labelled −1, of
    variance 0.5 + 7·noise per coordinate (d3's linear scale from [0, 0.5] to [0.5, 4])."""
    variance = 0.5 + (noise - 0.0) / (0.5 - 0.0) * (4.0 - 0.5)
    points: Points = []
    for cx, cy, label in ((2.0, 2.0, 1), (-2.0, -2.0, -1)):
        i = 0
        while i < n / 2:
            x = _normal(rng, cx, variance)
            y = _normal(rng, cy, variance)
            points.append((x, y, label))
            i += 1
    return points


def spiral(n: int, noise: float, rng: random.Random) -> Points:
    """classifySpiralData: two arms of n/2 points, r = 5·i/(n/2), t = 1.75 turns·i/(n/2) (+π for the second),
    at (r·sin t, r·cos t) jittered by noise·U(−1, 1) per coordinate."""
    points: Points = []
    half = n / 2
    for delta_t, label in ((0.0, 1), (math.pi, -1)):
        i = 0
        while i < half:
            r = i / half * 5
            t = 1.75 * i / half * 2 * math.pi + delta_t
            x = r * math.sin(t) + _uniform(rng, -1, 1) * noise
            y = r * math.cos(t) + _uniform(rng, -1, 1) * noise
            points.append((x, y, label))
            i += 1
    return points


def shuffle(points: Points, rng: random.Random) -> None:
    """shuffle: Playground's Fisher–Yates, in place (the last element swapped with a random earlier one)."""
    counter = len(points)
    while counter > 0:
        index = math.floor(rng.random() * counter)
        counter -= 1
        points[counter], points[index] = points[index], points[counter]


GENERATORS = {
    "playground_circle": circle,
    "playground_xor": xor,
    "playground_gauss": gauss,
    "playground_spiral": spiral,
}


def make(kind: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Playground's ``generateData`` for ``kind``: the points, then shuffled, from ``random.Random(seed)``.

    Returns ``x`` of shape (n, 2) and ``y`` of shape (n,) with labels 0/1 (Playground's −1 is 0).
    """
    rng = random.Random(seed)
    points = GENERATORS[kind](n, noise, rng)
    shuffle(points, rng)
    table = np.array(points, dtype=np.float64).reshape(len(points), 3)
    return table[:, :2], (table[:, 2] > 0).astype(np.float64)
