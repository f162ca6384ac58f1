"""How long ``regdemo diff`` takes on two large synthetic experiments (target: 10,000 runs in < 10 s).

    python scripts/bench_diff.py                        # 10,000 runs, 24x24 grids
    python scripts/bench_diff.py --runs 2000 --resolution 60

Nothing trains: each side is written directly in the saved format that diff reads (summary.csv with
the real columns, and per run config.yaml, metrics.json and plot_data.npz with grid, kernels and data
points), in a temporary folder. Each case is the wall time of a whole ``python -m regdemo diff ...
--json`` (start-up included, output to /dev/null), the median of ``--repeat`` calls:

- ``baseline``: BASE is a committed summary.csv, NEW the experiment folder (metrics and settings only);
- ``identical``: two experiment folders with the same files (every config.yaml and grid compared; equal
  grids are told by their zip checksums, nothing is decompressed);
- ``changed``: every metric moved by a relative 1e-9 (within tolerance, so every value is listed in the
  JSON) and every grid_prob moved by 1e-9, so each grid pair is decompressed and compared (the worst case,
  e.g. after a TensorFlow upgrade); its cost grows with the grid's area.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "dataset": "moons",
    "n_samples": 60,
    "noise": 0.2,
    "hidden_units": "16-8",
    "activation": "relu",
    "regularizer": "l2",
    "l1": 0.0,
    "l2": 0.01,
    "proximal": False,
    "dropout": 0.0,
    "optimizer": "adam",
    "learning_rate": 0.01,
    "epochs": 20,
    "batch_size": 16,
    "engine": "compiled",
    "early_stopping_patience": "",
}
FINAL = ["loss", "val_loss", "data_loss", "val_data_loss", "penalty", "accuracy", "val_accuracy"]
FIRST_LAYER = [f"first_layer_{k}" for k in ("min", "max", "std", "frac_zero", "frac_near_zero")]
BOUNDARY = [f"boundary_{k}" for k in ("contour_length", "regions", "class1_area_fraction")]
RESULTS = ["epochs_run", *FINAL, "generalization_gap", *FIRST_LAYER, "kernels_l1", "kernels_l2", *BOUNDARY]
CONFIG = """\
name: {name}
experiment: bench
variant: bench
sweep: {{seed: {seed}}}
seed: {seed}
dataset: {{kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}}
model:
  hidden_units: [16, 8]
  activation: relu
  regularizer: {{kind: l2, lambda: 0.01, l1: null, l2: null, apply_to_output: false, proximal: false}}
  dropout: 0.0
training: {{optimizer: adam, learning_rate: 0.01, epochs: 20, batch_size: 16, engine: compiled, shuffle: true}}
plots:
  boundary: {{xlim: [-2.0, 3.0], ylim: [-1.5, 2.0], resolution: {resolution}}}
  weights: {{layers: first, near_zero_tol: 0.001}}
"""


def write_side(folder: Path, runs: int, resolution: int, moved: float) -> None:
    """An experiment folder of ``runs`` runs; ``moved`` shifts every metric (relatively) and probability."""
    rng = np.random.default_rng(0)
    xx, yy = np.meshgrid(np.linspace(-2, 3, resolution), np.linspace(-1.5, 2, resolution))
    rows = []
    for i in range(runs):
        name = f"seed-{i}"
        run_dir = folder / name
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(CONFIG.format(name=name, seed=i, resolution=resolution))
        (run_dir / "metrics.json").write_text(json.dumps({"format": 1, "run": name, "status": "completed"}))
        a, b = rng.normal(size=2)
        prob = 1 / (1 + np.exp(-(a * xx + np.sin(b * yy * 3))))
        np.savez_compressed(
            run_dir / "plot_data.npz",
            grid_x=xx,
            grid_y=yy,
            grid_prob=np.clip(prob + moved, 0, 1),
            kernel_dense=rng.normal(size=(2, 16)),
            kernel_dense_1=rng.normal(size=(16, 8)),
            kernel_dense_2=rng.normal(size=(8, 1)),
            x_train=rng.normal(size=(45, 2)),
            y_train=rng.integers(0, 2, 45).astype(float),
            x_val=rng.normal(size=(15, 2)),
            y_val=rng.integers(0, 2, 15).astype(float),
        )
        values = rng.uniform(0.1, 2, len(RESULTS)) * (1 + moved)
        numbers = {key: float(v) for key, v in zip(RESULTS, values, strict=True)}
        row = {"run": name, "experiment": "bench", "variant": "bench", "status": "completed", "seed": i}
        rows.append(row | SETTINGS | numbers | {"train_seconds": rng.uniform(1, 2), "error": ""})
    with (folder / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def time_diff(base: Path, new: Path, repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``regdemo diff BASE NEW --json``, and its exit status.

    CPU time (user + system) is the steadier figure on a shared machine, where wall time includes
    waiting for a core.
    """
    env = os.environ | {"PYTHONPATH": str(REPO)}
    times, cpus, status = [], [], 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(
            [sys.executable, "-m", "regdemo", "diff", str(base), str(new), "--json"],
            stdout=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        times.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
        status = done.returncode
    return statistics.median(times), statistics.median(cpus), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--resolution", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_diff_") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        for name, moved in (("base", 0.0), ("copy", 0.0), ("changed", 1e-9)):
            write_side(root / name, args.runs, args.resolution, moved)
        took = time.perf_counter() - started
        print(f"wrote 3 x {args.runs} runs ({args.resolution}x{args.resolution} grids) in {took:.0f} s")
        cases = {
            "baseline": (root / "base" / "summary.csv", root / "copy"),
            "identical": (root / "base", root / "copy"),
            "changed": (root / "base", root / "changed"),
        }
        for case, (base, new) in cases.items():
            wall, cpu, status = time_diff(base, new, args.repeat)
            print(f"{case:10s} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {status})")


if __name__ == "__main__":
    main()
