"""Sweep throughput: the 12-run L2 λ sweep with 1 and with N workers, and the lecture's own way.

    python scripts/bench_sweep.py                 # configs/l2_lambda_sweep.yaml, 1 vs 2 workers
    python scripts/bench_sweep.py --workers 2 --repeat 3 --baseline-epochs 200

Each regdemo figure is the wall time of a whole `regdemo run` (start-up, training, plots, summary and
comparison figures) in a fresh output folder. The lecture's way (`scripts/lecture_fit_baseline.py`,
`model.fit` + `model.predict`) is timed at `--baseline-epochs` and scaled to the sweep's epochs and run
count; it draws no plots, so the ratio flatters it. With `--repeat` the 1-worker and N-worker runs
alternate and their medians are compared (timings on a 2-core machine wander by several percent).
Targets on 2 cores: N workers ≥ 1.7× one worker, and ≥ 40× the lecture's way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scripts" / "lecture_fit_baseline.py"


def time_regdemo(config: Path, workers: int, out: Path) -> tuple[float, float]:
    """One whole ``regdemo run`` into an empty folder: (wall seconds, steady-state seconds per run).

    Steady state: the time between the first and the last run folder appearing (each folder is renamed
    into place when its run is complete), per run finished after the first wave (``workers`` runs
    start together, so they finish together): start-up and the closing summary are left out, so it
    is the rate the workers train, measure and draw at.
    """
    cmd = [sys.executable, "-m", "regdemo", "run", str(config), "--workers", str(workers), "--quiet", "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    done = sorted((p / "metrics.json").stat().st_mtime for p in next(out.iterdir()).iterdir() if p.is_dir())
    return wall, (done[-1] - done[0]) / (len(done) - workers)


def time_baseline(epochs: int) -> dict:
    """One run of the lecture's script: its JSON line (import_s, fit_s, predict_s, ...)."""
    done = subprocess.run([sys.executable, str(BASELINE), "--epochs", str(epochs)], check=True, capture_output=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "l2_lambda_sweep.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="alternate the timings this many times")
    parser.add_argument("--baseline-epochs", type=int, default=200)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from regdemo.config.loading import load_experiment

    experiment = load_experiment(args.config)
    runs, epochs = len(experiment.runs), experiment.runs[0].training.epochs
    timings: dict[int, list[tuple[float, float]]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for workers in timings:
                timings[workers].append(time_regdemo(args.config, workers, Path(tmp) / f"{workers}-{rep}"))
    (one, one_steady), (many, many_steady) = (
        (statistics.median(w for w, _ in t), statistics.median(s for _, s in t)) for t in timings.values()
    )
    spread = {w: f"{min(x for x, _ in t):.1f}-{max(x for x, _ in t):.1f} s" for w, t in timings.items()}
    print(
        f"{runs} runs x {epochs} epochs ({args.config.name}); end to end, and steady state (start-up and summary "
        f"aside); medians of {args.repeat}"
    )
    print(
        f"regdemo, 1 worker:   {one:7.1f} s   {60 * runs / one:6.1f} runs/min   steady {60 / one_steady:6.1f} runs/min"
        f"   (range {spread[1]})"
    )
    print(
        f"regdemo, {args.workers} workers:  {many:7.1f} s   {60 * runs / many:6.1f} runs/min   "
        f"steady {60 / many_steady:6.1f} runs/min   ({one / many:.2f}x one worker end to end, "
        f"{one_steady / many_steady:.2f}x steady; range {spread[args.workers]})"
    )
    base = time_baseline(args.baseline_epochs)
    per_run = base["import_s"] + base["fit_s"] * epochs / args.baseline_epochs + base["predict_s"]
    lecture = per_run * runs
    print(
        f"lecture's way (fit {base['ms_per_epoch']:.1f} ms/epoch, scaled from {args.baseline_epochs} epochs): "
        f"{lecture:7.1f} s   {lecture / many:.0f}x slower than regdemo with {args.workers} workers"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
