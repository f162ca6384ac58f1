"""Memory: how much one run needs, estimated from its config alone, and how much this machine has.

:func:`estimate` is arithmetic on the config (no TensorFlow): the peak resident memory a run adds to
a process that has TensorFlow loaded, as a sum of terms, each owned by the field that drives it:

- ``model.hidden_units``: the weights, their gradients and the optimizer's slots (Adam 2, RMSprop 1,
  SGD 0), plus the copies made while initializing, measuring and saving them (numpy kernels, the
  float64 weight statistics): (8 + slots (+ 1 for ``restore_best_weights``)) × 4 bytes per parameter;
- ``dataset.n_samples``: the data (generated in float64, kept in float32 and as tensors: 72 bytes a
  sample) and the whole-set forward passes (each epoch's validation pass, the final metrics on the
  whole training set): 3 × widest layer × 4 bytes a sample;
- ``training.batch_size``: one batch's activations, kept for the backward pass: 3 × Σ units × 4 bytes a row;
- ``plots.boundary.resolution``: the grid's arrays, its complexity measures and its plot (96 bytes a
  point), and one chunk of points through the model (:func:`grid_chunk_points`): 3 × widest × 4 bytes a point;
- ``plots.snapshots``: the training film's frames, all held until encoded (:data:`SNAPSHOT_BYTES` each:
  a 660 × 300 frame, its row of the strip and of its palette image, its ≤ 100 × 100 grid and kernel);
- a fixed :data:`RUN_OVERHEAD` (tracing the training function, Keras' and matplotlib's caches).

Measured (Linux, x86-64, TensorFlow 2.21, one thread; peak RSS over the RSS before the run, which a
run's freed memory does not lower: TensorFlow and malloc keep it, so the terms add up), estimate / measured:
the lecture net 205 / 195 MiB; at resolution 2000 623 / 569; [1000, 1000] at resolution 2000 658 / 532;
[1000] 261 / 181; [4000, 4000] 871 / 802; 10⁶ samples 1626 / 1658; [1000, 1000, 1000] with 10⁵ samples
1572 / 1860 (tests/config/test_resources.py re-measures two of these). A process also needs
:data:`PROCESS_BYTES` for Python, TensorFlow, Keras and matplotlib themselves.

:func:`preflight` turns this into a config check: a run whose process would need more than this
machine's available memory (:func:`available_memory`) is refused, naming the field of the largest term.
With several workers, runs train at once, each in its own process: :func:`at_once` refuses a ``--workers``
whose min(workers, runs) processes (the largest runs) would need more than there is together.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from regdemo.config.schema import RunConfig

# The boundary grid goes through the model in chunks whose widest layer output is about this big.
GRID_CHUNK_BYTES = 2**26
# Chunks start at multiples of this many points, so vectorized tails fall where one call puts them.
GRID_CHUNK_ALIGN = 1024

MIB = 2**20
FLOAT = 4  # bytes of a float32
# Python with TensorFlow, Keras, matplotlib and regdemo imported, before any run: measured 690–720 MiB RSS.
PROCESS_BYTES = 768 * MIB
# What every run adds whatever its size: measured 50–60 MiB (traced functions, Keras' and matplotlib's caches).
RUN_OVERHEAD = 64 * MIB
SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 0}  # optimizer variables per weight (Keras' defaults: no momentum)
WEIGHT_COPIES = 8  # weights, gradients, initialization and statistics temporaries, the saved copy
SAMPLE_BYTES = 72  # a generated sample: float64 (x, y, noise), float32 copies, tensors
PASS_COPIES = 3  # layer outputs alive at once in a forward pass (matmul, bias, activation) or kept for backward
GRID_POINT_BYTES = 96  # a grid point: xx, yy, points, prob (float32 and float64), contours, labels, the plot
# A snapshot of the film, from frame to encoded GIF and PNG: measured 1.2–1.3 MiB (tracemalloc, 20 and 200 frames).
SNAPSHOT_BYTES = 3 * MIB // 2


def grid_chunk_points(widest: int) -> int:
    """Points per model call on the boundary grid, for a net whose widest layer has ``widest`` units.

    About :data:`GRID_CHUNK_BYTES` of layer output per call (131072 points at 128 units, 16384 at 1000),
    a multiple of :data:`GRID_CHUNK_ALIGN`, at least one alignment's worth.
    """
    return max(GRID_CHUNK_ALIGN, GRID_CHUNK_BYTES // (FLOAT * max(1, widest)) // GRID_CHUNK_ALIGN * GRID_CHUNK_ALIGN)


def parameters(hidden_units: list[int], inputs: int = 2) -> int:
    """Weights and biases of the net inputs (2, plus any noise inputs) → hidden_units… → 1."""
    dims = [inputs, *hidden_units, 1]
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(dims))


@dataclass(frozen=True)
class Estimate:
    """A run's peak memory in bytes, as terms keyed by the dotted field that drives each (``""``: fixed)."""

    terms: dict[str, int]

    @property
    def run_bytes(self) -> int:
        """What the run adds to a process with TensorFlow loaded."""
        return sum(self.terms.values())

    @property
    def process_bytes(self) -> int:
        """What a process training this run needs in all: :data:`PROCESS_BYTES` plus the run."""
        return PROCESS_BYTES + self.run_bytes

    @property
    def largest(self) -> str:
        """The field of the largest term."""
        return max((field for field in self.terms if field), key=self.terms.__getitem__)


def estimate(cfg: RunConfig) -> Estimate:
    """The peak memory of training, measuring, drawing and writing ``cfg`` (see the module docstring)."""
    units = cfg.model.hidden_units
    widest, total_units = max([*units, 1]), sum(units)  # [] is logistic regression: the output's one unit
    n = cfg.dataset.n_samples
    n_train = math.floor(n * (1.0 - cfg.dataset.validation_split))
    copies = WEIGHT_COPIES + SLOTS[cfg.training.optimizer]
    early = cfg.training.early_stopping
    copies += 1 if early is not None and early.restore_best_weights else 0
    points = cfg.plots.boundary.resolution**2
    chunk = min(points, grid_chunk_points(widest))
    return Estimate(
        {
            "model.hidden_units": parameters(units, 2 + cfg.dataset.noise_features) * FLOAT * copies,
            "dataset.n_samples": n * (SAMPLE_BYTES + PASS_COPIES * widest * FLOAT),
            "training.batch_size": min(cfg.training.batch_size, n_train) * PASS_COPIES * total_units * FLOAT,
            "plots.boundary.resolution": points * GRID_POINT_BYTES + chunk * PASS_COPIES * widest * FLOAT,
            "plots.snapshots": cfg.plots.snapshots * SNAPSHOT_BYTES,
            "": RUN_OVERHEAD,
        }
    )


def _cgroup_headroom(root: Path) -> int | None:
    """Bytes the memory cgroup at ``root`` still allows (its limit minus its usage without reclaimable
    file cache), or None without a limit. cgroup v2 (``memory.max``) or v1 (``memory/memory.limit_in_bytes``)."""
    for limit_file, usage_file, stat_file, inactive in (
        ("memory.max", "memory.current", "memory.stat", "inactive_file"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat", "total_inactive_file"),
    ):
        try:
            limit_text = (root / limit_file).read_text().strip()
            usage = int((root / usage_file).read_text())
            stat = dict(line.split() for line in (root / stat_file).read_text().splitlines() if line.strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= 2**60:  # v1 writes "no limit" as a huge number
            return None
        return max(0, int(limit_text) - usage + int(stat.get(inactive, 0)))
    return None


def available_memory(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """Bytes a new process can use: psutil's ``available``, or less when a memory cgroup limits this one."""
    import psutil

    headroom = _cgroup_headroom(cgroup_root)
    available = psutil.virtual_memory().available
    return available if headroom is None else min(available, headroom)


def _size(n_bytes: float) -> str:
    """``320 GB``, ``1.5 GB``, ``900 MB`` (powers of 1000, as ``free -h`` users read them)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9)):
        if n_bytes >= scale:
            value = n_bytes / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n_bytes / 1e6:.0f} MB"


def check(cfg: RunConfig, available: int) -> tuple[tuple[str, ...], str] | None:
    """None when ``cfg`` fits in ``available`` bytes; else the field to blame (as a key path) and why."""
    needed = estimate(cfg)
    if needed.process_bytes <= available:
        return None
    reason = f"a run needs about {_size(needed.process_bytes)}, this machine has {_size(available)} available"
    return tuple(needed.largest.split(".")), reason


def preflight(available: int | None = None) -> Callable[[RunConfig], tuple[tuple[str, ...], str] | None]:
    """A per-run check for :func:`regdemo.config.load_experiment` against ``available`` bytes
    (default: :func:`available_memory`, read once)."""
    limit = available_memory() if available is None else available
    return lambda cfg: check(cfg, limit)


def at_once(runs: Sequence[RunConfig], workers: int, available: int | None = None) -> str | None:
    """None when ``workers`` processes can train ``runs`` at once in ``available`` bytes (default:
    :func:`available_memory`); else why not. min(workers, runs) processes train at once, each as big as
    :attr:`Estimate.process_bytes` of its run: the largest runs are counted. One process (``workers`` 1,
    or a single run) is :func:`check`'s business, run by run."""
    parallel = min(workers, len(runs))
    if parallel <= 1:
        return None
    needed = sum(sorted((estimate(cfg).process_bytes for cfg in runs), reverse=True)[:parallel])
    limit = available_memory() if available is None else available
    if needed <= limit:
        return None
    return f"{parallel} runs at once need about {_size(needed)}, this machine has {_size(limit)} available; use fewer"
