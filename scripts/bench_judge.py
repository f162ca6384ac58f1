"""How long ``regdemo diff`` and ``regdemo check`` take on large synthetic experiments.

    python scripts/bench_judge.py                       # 10,000 runs, 24x24 grids (targets: diff < 10 s, check < 1 s)
    python scripts/bench_judge.py --runs 2000 --resolution 60
    python scripts/bench_judge.py --skip-diff           # check only (writes summary.csv and checks.json alone)

Nothing trains: each side is written directly in the saved format, in a temporary folder: summary.csv
(the real settings and result columns) and per run config.yaml, metrics.json and plot_data.npz (grid,
kernels, data points). The runs are two variants, ``a`` and ``b``, times ``--runs``/2 seeds, named
``a-SEED`` and ``b-SEED``. Each command is timed whole (``python -m regdemo ...``, start-up included,
output to /dev/null), the median of ``--repeat`` calls, in wall and CPU seconds:

- diff ``baseline``: BASE is a committed summary.csv, NEW the experiment folder (metrics and settings only);
- diff ``identical``: two experiment folders with the same files (every config.yaml and grid compared; equal
  grids are told by their zip checksums, nothing is decompressed);
- diff ``changed``: every metric moved by a relative 1e-9 (within tolerance, so every value is listed in the
  JSON) and every grid_prob moved by 1e-9, so each grid pair is decompressed and compared (the worst case,
  e.g. after a TensorFlow upgrade); its cost grows with the grid's area;
- ``check EXP --no-fail-checks`` on the base side, whose checks.json holds four checks written as ``regdemo
  run`` writes them (a bound, a difference and a ratio of a versus b paired by seed, an ``all:`` of two);
  and ``regdemo.checks.evaluate`` alone, in this process, on the rows of its summary.csv.
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

from regdemo import checks, checkspec, rundir
from regdemo.history import RESULT_COLUMNS

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
CONFIG = """\
name: {name}
experiment: bench
variant: {variant}
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
A, B = {"variant": "a"}, {"variant": "b"}
GAP, LOSS = "window_generalization_gap", "val_data_loss"
CHECKS = [  # as a config's checks: would be resolved against its runs
    {"name": "accurate", "claim": "a is accurate", "metric": "accuracy", "runs": A, "at_least": 0.05},
    {"name": "gap", "claim": "a shrinks the gap", "metric": GAP, "runs": A, "versus": B, "difference": {"below": 0}},
    {
        "name": "loss",
        "claim": "a's loss within 50x b's",
        "metric": LOSS,
        "runs": A,
        "versus": B,
        "ratio": {"at_most": 50},
    },
    {
        "name": "sparse_and_fit",
        "claim": "b has zeros and fits",
        "all": [
            {"metric": "first_layer_frac_zero", "runs": B, "at_least": 0},
            {"metric": "val_loss - loss", "runs": B, "below": 5},
        ],
    },
]


def write_side(folder: Path, runs: int, resolution: int, moved: float, files: bool = True) -> list[dict]:
    """An experiment folder of ``runs`` runs (run folders only if ``files``); ``moved`` shifts every metric
    (relatively) and probability. Returns the runs as dicts (name, variant, seed)."""
    rng = np.random.default_rng(0)
    xx, yy = np.meshgrid(np.linspace(-2, 3, resolution), np.linspace(-1.5, 2, resolution))
    rows, configs = [], []
    for variant in "ab":
        for seed in range(runs // 2):
            name = f"{variant}-{seed}"
            configs.append({"name": name, "variant": variant, "seed": seed})
            if files:
                run_dir = folder / name
                run_dir.mkdir(parents=True)
                text = CONFIG.format(name=name, variant=variant, seed=seed, resolution=resolution)
                (run_dir / "config.yaml").write_text(text)
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
            values = rng.uniform(0.1, 2, len(RESULT_COLUMNS)) * (1 + moved)
            numbers = {key: float(v) for key, v in zip(RESULT_COLUMNS, values, strict=True)}
            row = {"run": name, "experiment": "bench", "variant": variant, "status": "completed", "seed": seed}
            rows.append(row | SETTINGS | numbers | {"error": ""})
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return configs


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def time_command(args: list[str], repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``python -m regdemo ARGS``, and its exit status.

    CPU time (user + system) is the steadier figure on a shared machine, where wall time includes
    waiting for a core.
    """
    env = os.environ | {"PYTHONPATH": str(REPO)}
    times, cpus, status = [], [], 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _cpu()
        command = [sys.executable, "-m", "regdemo", *map(str, args)]
        status = subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=False).returncode
        times.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    return statistics.median(times), statistics.median(cpus), status


def write_checks(exp_dir: Path, runs: list[dict]) -> list[checkspec.ResolvedCheck]:
    """CHECKS resolved against ``runs``, judged once and saved as checks.json (as ``regdemo run`` does)."""
    resolved = [
        checkspec.resolve(checkspec.CheckConfig.model_validate(c), runs, f"checks[{i}]") for i, c in enumerate(CHECKS)
    ]
    results = checks.evaluate(resolved, rundir.read_summary(exp_dir))
    rundir.write_checks(results, resolved, False, exp_dir)
    return resolved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--resolution", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-diff", action="store_true", help="time check only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_judge_") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        sides = (("base", 0.0),) if args.skip_diff else (("base", 0.0), ("copy", 0.0), ("changed", 1e-9))
        runs = [write_side(root / name, args.runs, args.resolution, moved, not args.skip_diff) for name, moved in sides]
        took = time.perf_counter() - started
        print(f"wrote {len(sides)} x {args.runs} runs ({args.resolution}x{args.resolution} grids) in {took:.0f} s")
        cases = (
            {}
            if args.skip_diff
            else {
                "baseline": (root / "base" / "summary.csv", root / "copy"),
                "identical": (root / "base", root / "copy"),
                "changed": (root / "base", root / "changed"),
            }
        )
        for case, (base, new) in cases.items():
            wall, cpu, status = time_command(["diff", base, new, "--json"], args.repeat)
            print(f"diff {case:10s} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {status})")

        exp_dir = root / "base"
        resolved = write_checks(exp_dir, runs[0])
        wall, cpu, status = time_command(["check", exp_dir, "--no-fail-checks"], args.repeat)
        print(f"check whole      wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {status})")
        rows = rundir.read_summary(exp_dir)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            results = checks.evaluate(resolved, rows)
            times.append(time.perf_counter() - started)
        rules = sum(len(c.rules) for c in resolved)
        verdicts = ", ".join(f"{r.name}: {r.verdict}" for r in results)
        print(f"check evaluate   {statistics.median(times):6.3f} s in process ({len(resolved)} checks, {rules} rules)")
        print(f"  verdicts: {verdicts}")


if __name__ == "__main__":
    main()
