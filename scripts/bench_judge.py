"""How long ``regdemo diff`` and ``regdemo check`` take on large synthetic experiments.

    python scripts/bench_judge.py                   # 10,000 runs, 24x24 grids (targets: diff < 10 s, check < 1 s)
    python scripts/bench_judge.py --runs 2000 --resolution 60
    python scripts/bench_judge.py --skip-diff       # check only (summary.csv and checks.json alone)

Nothing trains: each side is written in the saved format in a temporary folder (summary.csv; per run
config.yaml, metrics.json, plot_data.npz), runs ``a-SEED`` and ``b-SEED``. Each command is timed whole
(``benchkit.measure``: start-up included, wall and CPU seconds, the median of ``--repeat`` calls):
- diff ``baseline``: a committed summary.csv against the experiment folder (metrics and settings only);
- diff ``identical``: two folders with the same files (equal grids told by their zip checksums);
- diff ``changed``: every metric moved by a relative 1e-9 (within tolerance, so every value is listed) and
  every grid_prob by 1e-9, so each grid pair is decompressed and compared (the worst case);
- ``check EXP --no-fail-checks``, its checks.json written from CHECKS as ``regdemo run`` writes it; and
  ``regdemo.results.checks.evaluate`` alone, in this process, on the rows of its summary.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

import benchkit
from regdemo.columns import RESULT_COLUMNS
from regdemo.config import checkspec
from regdemo.config.schema import RunConfig
from regdemo.results import checks, rundir
from regdemo.results.summary import SUMMARY_SETTINGS

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
CHECKS = yaml.safe_load("""\
- {name: accurate, claim: a is accurate, metric: accuracy, runs: {variant: a}, at_least: 0.05}
- {name: gap, claim: a shrinks the gap, metric: window_generalization_gap,
   runs: {variant: a}, versus: {variant: b}, difference: {below: 0}}
- {name: loss, claim: "a's loss is at most 50x b's", metric: val_data_loss,
   runs: {variant: a}, versus: {variant: b}, ratio: {at_most: 50}}
- name: sparse_and_fit
  claim: b has zeros and fits
  all:
    - {metric: first_layer_frac_zero, runs: {variant: b}, at_least: 0}
    - {metric: val_loss - loss, runs: {variant: b}, below: 5}
""")  # a config's checks: a bound, a difference and a ratio paired by seed, an all: of two


def write_run(run_dir: Path, config: str, rng: np.random.Generator, grid: tuple, moved: float) -> None:
    """One run folder: config.yaml, metrics.json, and plot_data.npz (``grid`` = (xx, yy), kernels, points)."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config)
    (run_dir / "metrics.json").write_text(json.dumps({"format": 1, "run": run_dir.name, "status": "completed"}))
    (xx, yy), (a, b) = grid, rng.normal(size=2)
    prob = np.clip(1 / (1 + np.exp(-(a * xx + np.sin(b * yy * 3)))) + moved, 0, 1)
    arrays = {"grid_x": xx, "grid_y": yy, "grid_prob": prob}
    arrays |= {f"kernel_dense{i}": rng.normal(size=s) for i, s in (("", (2, 16)), ("_1", (16, 8)), ("_2", (8, 1)))}
    for part, n in (("train", 45), ("val", 15)):
        arrays |= {f"x_{part}": rng.normal(size=(n, 2)), f"y_{part}": rng.integers(0, 2, n).astype(float)}
    np.savez_compressed(run_dir / "plot_data.npz", **arrays)


def write_side(folder: Path, runs: int, resolution: int, moved: float, files: bool) -> None:
    """An experiment folder of ``runs`` runs (summary.csv, and run folders if ``files``); ``moved`` shifts
    every metric (relatively) and probability."""
    rng = np.random.default_rng(0)
    config = RunConfig.model_validate(yaml.safe_load(CONFIG.format(name="a-0", variant="a", seed=0, resolution=24)))
    settings = {key: get(config) for key, get in SUMMARY_SETTINGS.items() if key != "seed"}  # as summary.csv's
    xx, yy = np.meshgrid(np.linspace(-2, 3, resolution), np.linspace(-1.5, 2, resolution))
    rows = []
    for variant in "ab":
        for seed in range(runs // 2):
            name = f"{variant}-{seed}"
            if files:
                text = CONFIG.format(name=name, variant=variant, seed=seed, resolution=resolution)
                write_run(folder / name, text, rng, (xx, yy), moved)
            values = rng.uniform(0.1, 2, len(RESULT_COLUMNS)) * (1 + moved)
            numbers = {key: float(v) for key, v in zip(RESULT_COLUMNS, values, strict=True)}
            row = {"run": name, "experiment": "bench", "variant": variant, "status": "completed", "seed": seed}
            rows.append(row | settings | numbers | {"error": ""})
    folder.mkdir(parents=True, exist_ok=True)
    rundir.write_summary(rows, folder)


def time_command(args: list, repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds (see ``benchkit.measure``) of ``python -m regdemo ARGS``, and its exit status."""
    command = [sys.executable, "-m", "regdemo", *map(str, args)]
    runs = [benchkit.measure(command, os.environ, Path.cwd(), every=0.2) for _ in range(repeat)]
    return statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs), runs[-1].status


def time_check(exp_dir: Path, repeat: int) -> None:
    """Write CHECKS as checks.json (resolved against the runs, judged once, as ``regdemo run`` does), then time
    ``regdemo check`` whole and ``checks.evaluate`` alone (median of ``repeat``, on summary.csv's text rows)."""
    rows = rundir.read_summary(exp_dir)
    runs = [{"name": r["run"], "variant": r["variant"], "seed": int(r["seed"])} for r in rows]
    configs = [checkspec.CheckConfig.model_validate(check) for check in CHECKS]
    resolved = [checkspec.resolve(check, runs, f"checks[{i}]") for i, check in enumerate(configs)]
    rundir.write_checks(checks.evaluate(resolved, rows), resolved, False, exp_dir)
    wall, cpu, status = time_command(["check", exp_dir, "--no-fail-checks"], repeat)
    print(f"check whole      wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {status})")
    times, results = zip(*(benchkit.timed(lambda: checks.evaluate(resolved, rows)) for _ in range(repeat)), strict=True)
    results = results[-1]
    rules = sum(len(c.rules) for c in resolved)
    print(f"check evaluate   {statistics.median(times):6.3f} s in process ({len(resolved)} checks, {rules} rules)")
    print("  verdicts: " + ", ".join(f"{r.name}: {r.verdict}" for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--resolution", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-diff", action="store_true", help="time check only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_judge_") as tmp:
        base, copy, changed = (Path(tmp) / name for name in ("base", "copy", "changed"))
        started = time.perf_counter()
        sides = {base: 0.0} if args.skip_diff else {base: 0.0, copy: 0.0, changed: 1e-9}
        for side, moved in sides.items():
            write_side(side, args.runs, args.resolution, moved, files=not args.skip_diff)
        what = "summary.csv only" if args.skip_diff else f"{args.resolution}x{args.resolution} grids"
        print(f"wrote {len(sides)} x {args.runs} runs ({what}) in {time.perf_counter() - started:.0f} s")
        cases = {"baseline": (base / "summary.csv", copy), "identical": (base, copy), "changed": (base, changed)}
        for case, (old, new) in {} if args.skip_diff else cases.items():
            wall, cpu, status = time_command(["diff", old, new, "--json"], args.repeat)
            print(f"diff {case:10s} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {status})")
        time_check(base, args.repeat)


if __name__ == "__main__":
    main()
