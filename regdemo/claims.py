"""The lecture's claims, measured: the story configs (whose ``checks:`` state the claims) run at full or
``small`` scale and judged, and the live one-optimizer-step runs behind "L2 is weight decay".

The small scale is data (:data:`SMALL`) deep-merged over each config file, which is then loaded like
any other (its checks resolved against the smaller sweep); the one-step runs are trained by
:func:`regdemo.train.build.train_run` like every run. The rules are in the configs; judging them is
:mod:`regdemo.results.checks`.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from regdemo.api import run_experiment
from regdemo.config.loading import ExperimentConfig, load_experiment
from regdemo.config.overrides import deep_merge
from regdemo.config.schema import RunConfig
from regdemo.options import RunOptions
from regdemo.results.checks import CheckResult

# The configs the claims read, by name (configs/<name>.yaml), in the order they run.
CONFIGS = (
    "lecture",
    "l1_vs_l2",
    "lambda_sweep",
    "width_sweep",
    "remedies",
    "feature_selection",
    "weight_decay",
    "choose_lambda",
)
# --scale small, as data deep-merged over each config file ("*": every file; "runs": a variant's own
# keys, by variant name): 15 % of the epochs (2000 → 300, and the same-steps remedy's 240 → 36, so the
# ratio between variants stays), one seed, fewer widths and λ values, a coarse grid. 300 epochs are
# still enough for the no-regularization net to overfit.
SMALL: dict[str, dict[str, Any]] = {
    "*": {"training": {"epochs": 300}, "plots": {"boundary": {"resolution": 80}}},
    "l1_vs_l2": {"sweep": {"seed": [2]}},
    "lambda_sweep": {"sweep": {"model.regularizer.lambda": [0.0, 1.0], "seed": [2]}},
    "width_sweep": {"sweep": {"model.hidden_units": [[1], [10], [1000]], "seed": [2]}},  # its checks read 1 and 1000
    "remedies": {"sweep": {"seed": [2]}, "runs": {"more_data_same_steps": {"training": {"epochs": 36}}}},
    # 500 epochs → 75; the λ its checks read, one seed
    "feature_selection": {
        "training": {"epochs": 75},
        "sweep": {"model.regularizer.lambda": [0.001, 0.01, 0.03], "seed": [2]},
    },
    "weight_decay": {"sweep": {"seed": [2]}},
    "choose_lambda": {"dataset": {"cv": {"folds": 3}}},  # 3 folds of 33–34 rows: 18 runs
}


def small_config(data: dict[str, Any], name: str) -> dict[str, Any]:
    """Config file ``name``'s mapping at ``small`` scale, named ``<name>_small``: :data:`SMALL`'s ``"*"``
    and ``name`` entries deep-merged over it (their ``"runs"`` over the variants of those names)."""
    over = deep_merge(SMALL["*"], SMALL.get(name, {}))
    variants = over.pop("runs", {})
    small = deep_merge(data, over) | {"name": f"{name}_small"}
    if "runs" in data:
        small["runs"] = [deep_merge(variant, variants.get(variant["name"], {})) for variant in data["runs"]]
    return small


def experiment_for(name: str, configs: Path, scale: str, workdir: Path) -> ExperimentConfig:
    """``<configs>/<name>.yaml`` as an ExperimentConfig; at ``small`` scale its :func:`small_config`, written
    to ``workdir`` and loaded from there (so errors and resolution are those of any config file)."""
    path = configs / f"{name}.yaml"
    if scale == "full":
        return load_experiment(path)
    small = workdir / f"{name}_small.yaml"
    data = small_config(yaml.safe_load(path.read_text(encoding="utf-8")), name)
    small.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_experiment(small)


def one_step_config(optimizer: str, kind: str, lr: float, l2: float) -> RunConfig:
    """One full-batch optimizer step (all 80 training rows of the lecture's data, in order) of a
    16-unit net from seed 0, with L2(``l2``) or no penalty."""
    return RunConfig(
        name=f"one_step_{optimizer}_{kind}",
        experiment="claims",
        seed=0,
        model={"hidden_units": [16], "regularizer": {"kind": kind, "lambda": l2 if kind == "l2" else 0.0}},
        training={"optimizer": optimizer, "learning_rate": lr, "epochs": 1, "batch_size": 100, "shuffle": False},
    )


def measure_weight_decay(lr: float = 0.1, l2: float = 0.5) -> tuple[float, float, float]:
    """max |w_L2 − ((1 − 2·η·l2)·w + plain step)| over the hidden kernel w (2, 16) for SGD and for Adam,
    and max |2·η·l2·w| (the decay's size). Trains four one-step runs (:func:`one_step_config`)."""
    from regdemo.train.tfsetup import load_tensorflow

    load_tensorflow()
    # Imported here, not at the top: the driver that runs the configs in worker processes stays
    # without TensorFlow until the runs are done.
    from regdemo.train.build import prepare, train_run

    def kernel_after(optimizer: str, kind: str) -> np.ndarray:
        return train_run(one_step_config(optimizer, kind, lr, l2)).model.layers[0].kernel.numpy()

    w = prepare(one_step_config("sgd", "l2", lr, l2))[0].layers[0].kernel.numpy()  # the same start for all
    gaps = []
    for optimizer in ("sgd", "adam"):
        with_l2, plain = kernel_after(optimizer, "l2"), kernel_after(optimizer, "none")
        gaps.append(float(np.abs(with_l2 - ((1 - 2 * lr * l2) * w + (plain - w))).max()))
    return gaps[0], gaps[1], float(np.abs(2 * lr * l2 * w).max())


DECAY_TOL = 1e-5  # "equal" one-step weights in float32


def weight_decay_row(sgd_gap: float, adam_gap: float, decay_size: float) -> tuple[str, str, str, str]:
    """The live "L2 is weight decay" figures as a claims-table row: (claim, measured, verdict, rule)."""
    holds = sgd_gap <= DECAY_TOL < decay_size
    return (
        "L2 is weight decay: w ← (1 − 2·η·l2)·w − η·∇data",
        f"one SGD step: max |Δw| {sgd_gap:.1e} (the decay itself: {decay_size:.2f}); under Adam: {adam_gap:.2f}",
        "holds" if holds else "does not hold",
        f"SGD: max |Δw| ≤ {DECAY_TOL:g} (also tests/train/test_proximal.py::"
        "test_one_sgd_step_with_l2_is_weight_decay_then_the_plain_step)",
    )


def measure(
    out: Path,
    configs: Path,
    scale: str = "full",
    workers: int = 2,
    quiet: bool = True,
    names: Sequence[str] = CONFIGS,
) -> list[tuple[str, CheckResult]]:
    """Run (or reuse: the runner resumes) every config of ``names`` (default :data:`CONFIGS`) from ``configs``
    into ``out`` and judge its checks (writing each experiment's checks.json); return ``(config name, result)``
    pairs."""
    say: Callable[[str], None] = (lambda _: None) if quiet else (lambda text: print(text, file=sys.stderr))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            experiment = experiment_for(name, configs, scale, Path(tmp))
            say(f"{experiment.name}: {len(experiment.runs)} runs")
            options = RunOptions(workers=workers, progress=not quiet)  # as `regdemo run`, no report
            done = run_experiment(experiment, out, options, say=say)
            results += [(name, result) for result in done.checks]
    return results
