"""The runs to do, grouped into packs: runs of one :func:`regdemo.train.packing.pack_key` train together in
one compiled program (:mod:`regdemo.train.packed`), each worker a pack at a time.

Pure arithmetic on configs, no TensorFlow (the driver plans; the workers train). A pack never mixes keys; a run
the packed engine cannot train (key None: ``engine: fit``) is a pack of its own, and so is every run when
TensorBoard's histograms are kept (they read the model while it trains). A group is split into packs of
at most :data:`MAX_PACK` runs, as many as there are workers where each gets :data:`SPLIT_AT` runs or more,
sized alike, and small enough that the stacked weights of a pack fit in the memory its worker has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from regdemo.config.resources import FLOAT, estimate
from regdemo.config.schema import RunConfig
from regdemo.train.packing import CHUNK_EPOCHS, pack_key

# Runs per pack at most: past a few dozen the per-run time stops falling, and a kill loses the pack in flight.
MAX_PACK = 48
# Runs per pack at least before a group is split for the workers: a small pack's epoch costs about what one of
# a few more runs does (the program's fixed cost), and each worker holds a TensorFlow of its own.
SPLIT_AT = 8


def stacked_bytes(cfg: RunConfig) -> int:
    """What one run adds to its pack's stacked variables: its weights with their gradients, slots and copies
    (the memory preflight's term, :func:`regdemo.config.resources.estimate`), its data (inputs and label) and
    a chunk's batch orders (int32, as wide as a float)."""
    data = cfg.dataset.n_samples * (3 + cfg.dataset.noise_features + CHUNK_EPOCHS) * FLOAT
    return estimate(cfg).terms["model.hidden_units"] + data


def _split(group: list[RunConfig], parts: int) -> list[list[RunConfig]]:
    """``group`` in ``parts`` consecutive packs whose sizes differ by one at most."""
    size, extra = divmod(len(group), parts)
    packs, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        packs.append(group[start:end])
        start = end
    return packs


def packs(
    todo: Sequence[RunConfig], workers: int, memory: int, alone: bool = False, split_at: int = SPLIT_AT
) -> list[list[RunConfig]]:
    """``todo`` as packs, in the order of each group's first run (runs keep their order within a group):
    per group of one key, at least ``min(workers, runs // split_at)`` packs, each at most :data:`MAX_PACK` runs
    and at most ``memory / workers`` bytes of :func:`stacked_bytes`. ``alone``: every run a pack of one."""
    groups: dict[object, list[RunConfig]] = {}
    for i, cfg in enumerate(todo):
        key = None if alone else pack_key(cfg)
        groups.setdefault(("alone", i) if key is None else key, []).append(cfg)
    share = memory / max(1, workers)
    planned: list[list[RunConfig]] = []
    for group in groups.values():
        per_pack = max(1, min(MAX_PACK, int(share // max(1, max(map(stacked_bytes, group))))))
        parts = max(min(workers, len(group) // split_at), math.ceil(len(group) / per_pack))
        planned.extend(_split(group, parts))
    return planned


def pack_label(pack: Sequence[RunConfig]) -> str:
    """What the progress display calls a pack in training: its first run's name, and how many train with it."""
    return pack[0].name if len(pack) == 1 else f"{pack[0].name} (+{len(pack) - 1} packed)"
