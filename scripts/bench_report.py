"""The report of 1,000 small runs: how long loading, the summary, the figures and report.html take.

    python scripts/bench_report.py                # trains outputs/bench-report/ once (minutes), then times
    python scripts/bench_report.py --train-only   # only make (or finish) the experiment

The experiment (1 kind x 10 lambdas x 100 seeds of a 1x8 net, 5 epochs, 40 samples, a 20x20 grid) is
trained once by ``regdemo run --workers 2`` and reused while present (a rerun resumes it). Then, in one
process: ``rundir.load_runs``, ``summary.summary_rows`` with ``rundir.write_summary``, every comparison
figure (:func:`regdemo.draw.figures.compare`, grids off past 36 runs), ``report.write_report``; seconds each,
and report.html's size. Targets (issue #11, 2 cores): the report in < 30 s, an index page < 5 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "outputs"
CONFIG = """\
name: bench-report
seed: 1
dataset: {kind: moons, n_samples: 40, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], activation: relu, regularizer: {kind: l2}}
training: {optimizer: adam, learning_rate: 0.01, epochs: 5, batch_size: 16, engine: compiled}
plots: {boundary: {xlim: [-2, 3], ylim: [-1.5, 2], resolution: 20}}
sweep:
  model.regularizer.lambda: [0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
  seed: SEEDS
"""


def train(workers: int) -> Path:
    """Make (or finish: regdemo resumes) outputs/bench-report/; return the experiment folder."""
    config = OUT / "bench-report.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(CONFIG.replace("SEEDS", str(list(range(1, 101)))), encoding="utf-8")
    exp_dir = OUT / "bench-report"
    command = [sys.executable, "-m", "regdemo", "run", str(config), "--out", str(OUT), "--workers", str(workers)]
    subprocess.run([*command, "--quiet"], check=True, cwd=ROOT)
    return exp_dir


def measure(exp_dir: Path) -> dict[str, float]:
    """Seconds of each step of the report's path (in this process), and report.html's MB."""
    from regdemo.draw import figures
    from regdemo.report import page as report
    from regdemo.results import rundir, summary

    spent: dict[str, float] = {}
    started = time.perf_counter()
    run_dirs = rundir.find_runs(exp_dir)
    runs = rundir.load_runs(run_dirs)
    spent["load_runs"] = time.perf_counter() - started
    started = time.perf_counter()
    rundir.write_summary(summary.summary_rows(runs), exp_dir)
    spent["summary.csv"] = time.perf_counter() - started
    started = time.perf_counter()
    written = figures.compare(run_dirs, exp_dir)
    spent["figures (compare)"] = time.perf_counter() - started
    spent["figures written"] = len(written)
    started = time.perf_counter()
    page = report.write_report(exp_dir)
    spent["write_report"] = time.perf_counter() - started
    spent["report.html MB"] = page.stat().st_size / 1e6
    spent["runs"] = len(runs)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-only", action="store_true", help="make the experiment and stop")
    args = parser.parse_args()
    exp_dir = OUT / "bench-report"
    if args.train_only or not (exp_dir / "summary.csv").is_file():
        started = time.perf_counter()
        train(args.workers)
        print(f"trained {exp_dir} in {time.perf_counter() - started:.0f} s")
        if args.train_only:
            return 0
    for key, value in measure(exp_dir).items():
        print(f"  {key + ':':<22} {value:8.2f}" if isinstance(value, float) else f"  {key + ':':<22} {value:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
