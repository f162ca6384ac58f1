"""Per-run overhead of the Ray backend against the local pool, at a few hundred tiny runs.

    python scripts/bench_ray.py                  # 200 runs (2 kinds x 10 lambdas x 10 seeds), 2 workers each
    python scripts/bench_ray.py --seeds 25       # 500 runs

Runs are tiny on purpose (one 8-unit layer, 3 epochs, a 12x12 boundary grid), so what is measured is the
machinery around a run, not training. Everything is timed in this process, in milliseconds per run:
- wall time per run on each backend, the same experiment, 2 workers (Ray: a local instance with 2 CPUs);
- Ray scheduling: empty tasks carrying a run's config, and the same returning a run folder's worth of bytes
  (the difference is result transfer); the bytes per run are those the real tasks returned;
- driver-side writing: ``write_run_files`` (staging folder, files, rename), timed inside the Ray run;
- summary/report: ``figures.compare`` (summary.csv + comparison figures) and ``report.write_report`` on the runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = """\
name: bench
seed: 1
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], activation: relu}
training: {optimizer: adam, learning_rate: 0.01, epochs: 3, batch_size: 16, engine: compiled}
plots: {boundary: {xlim: [-2, 3], ylim: [-1.5, 2], resolution: 12}}
sweep:
  model.regularizer.kind: [l1, l2]
  model.regularizer.lambda: [0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
  seed: {seeds}
"""


class Timer:
    """Accumulates the time and calls of a wrapped function."""

    def __init__(self, func):
        self.func, self.seconds, self.calls = func, 0.0, 0

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def run_backend(experiment, out: Path, backend: str, workers: int) -> float:
    from regdemo.runner import run_experiment

    started = time.perf_counter()
    outcome = run_experiment(experiment, out, workers=workers, backend=backend, show_progress=False, say=lambda _: None)
    assert not outcome.failed, outcome.failed
    return time.perf_counter() - started


def ray_task_overhead(cfg, payload_bytes: int, tasks: int, workers: int) -> tuple[float, float, float]:
    """(start-up s, ms per empty task, ms per task returning ``payload_bytes``) on a fresh local instance."""
    import ray

    from regdemo.backends import ray as raybackend

    @ray.remote(num_cpus=1)
    def task(cfg, size: int) -> dict[str, bytes]:
        return {"payload": b"x" * size} if size else {}

    started = time.perf_counter()
    raybackend.connect(None, workers)
    startup = time.perf_counter() - started
    try:
        ray.get([task.remote(cfg, 0) for _ in range(2 * workers)])  # workers started
        per_task = []
        for size in (0, payload_bytes):
            started = time.perf_counter()
            refs = [task.remote(cfg, size) for _ in range(tasks)]
            while refs:  # as the backend collects: as they finish
                done, refs = ray.wait(refs, num_returns=1)
                ray.get(done)
            per_task.append(1000 * (time.perf_counter() - started) / tasks)
    finally:
        ray.shutdown()
    return startup, per_task[0], per_task[1]


def time_reporting(exp_dir: Path, run_dirs: list[Path]) -> dict[str, float]:
    """Seconds to load the runs, write summary.csv, ``compare`` and ``write_report`` (and the page's MB)."""
    from regdemo import figures, report, rundir, summary

    timings = {}
    started = time.perf_counter()
    runs = rundir.load_runs(run_dirs)
    timings["load_runs"] = time.perf_counter() - started
    started = time.perf_counter()
    rundir.write_summary(summary.summary_rows(runs), exp_dir)
    timings["summary.csv"] = time.perf_counter() - started
    started = time.perf_counter()
    figures.compare(run_dirs, exp_dir)
    timings["compare"] = time.perf_counter() - started
    started = time.perf_counter()
    page = report.write_report(exp_dir)
    timings["write_report"] = time.perf_counter() - started
    timings["report_mb"] = page.stat().st_size / 1e6
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per (kind, lambda): runs = 20 x seeds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=int, default=10_000, help="the run count to extrapolate to")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from regdemo import rundir
    from regdemo.backends import ray as raybackend
    from regdemo.config import load_experiment
    from regdemo.tfsetup import load_tensorflow

    load_tensorflow()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        config.write_text(CONFIG.replace("{seeds}", str(list(range(1, args.seeds + 1)))), encoding="utf-8")
        experiment = load_experiment(config)
        n = len(experiment.runs)
        writes = Timer(rundir.write_folder_files)
        rundir.write_folder_files = writes
        connects = Timer(raybackend.connect)
        raybackend.connect = connects
        ray_wall = run_backend(experiment, Path(tmp) / "ray", "ray", args.workers)
        local_wall = run_backend(experiment, Path(tmp) / "local", "local", args.workers)
        exp_dir = Path(tmp) / "ray" / experiment.name
        run_dirs = [exp_dir / cfg.name for cfg in experiment.runs]
        files = [p for d in run_dirs for p in d.rglob("*") if p.is_file()]
        per_run_bytes = sum(p.stat().st_size for p in files) / n
        startup, empty_ms, payload_ms = ray_task_overhead(experiment.runs[0], round(per_run_bytes), n, args.workers)
        reporting = time_reporting(exp_dir, run_dirs)
        half_dir = Path(tmp) / "half" / experiment.name  # the same at half the runs: the marginal cost per run
        for run_dir in run_dirs[: n // 2]:
            shutil.copytree(run_dir, half_dir / run_dir.name)
        half = time_reporting(half_dir, sorted(half_dir.iterdir()))

    ms = lambda seconds: 1000 * seconds / n  # noqa: E731
    write_ms = ms(writes.seconds)
    print(f"{n} runs (1x8 net, 3 epochs, 12x12 grid), {args.workers} workers per backend; ms per run unless stated")
    print(f"  wall, local pool:                {ms(local_wall):8.1f}   ({local_wall:.1f} s in all)")
    init = f"of which {connects.seconds:.1f} s ray.init"
    print(f"  wall, Ray (local instance):      {ms(ray_wall):8.1f}   ({ray_wall:.1f} s, {init})")
    print(f"  Ray minus local pool:            {ms(ray_wall - local_wall):8.1f}")
    print(f"  Ray scheduling, empty task:      {empty_ms:8.2f}   (instance start-up {startup:.1f} s, once)")
    print(f"  Ray task + result transfer:      {payload_ms:8.2f}   ({per_run_bytes / 1e3:.0f} kB per run returned)")
    print(
        f"  driver writes a run folder:      {write_ms:8.2f}   ({writes.calls} folders, {1000 / write_ms:.0f} runs/s)"
    )
    slope = {key: (reporting[key] - half[key]) / (n - n // 2) for key in reporting}  # per added run
    for key in ("load_runs", "summary.csv", "compare", "write_report"):
        spent = f"{half[key]:.1f} s for {n // 2} runs, {reporting[key]:.1f} s for {n}"
        print(f"  {key + ':':<32} {1000 * slope[key]:8.2f}   per added run ({spent})")
    print(f"  report.html: {reporting['report_mb']:.1f} MB ({1000 * slope['report_mb']:.0f} kB per added run)")
    k = args.scale
    print(f"extrapolated to {k} runs (measured cost per run x {k}; linear, not measured):")
    through = f"{k * per_run_bytes / 1e9:.1f} GB through the driver"
    print(f"  driver writing:        {k * write_ms / 1000:8.0f} s   ({through})")
    print(f"  Ray scheduling+transfer, 2 CPUs: {k * payload_ms / 1000:.0f} s")
    for key in ("summary.csv", "compare", "write_report"):
        print(f"  {key + ':':<22} {reporting[key] + (k - n) * slope[key]:8.0f} s")
    print(f"  report.html:           {(reporting['report_mb'] + (k - n) * slope['report_mb']) / 1000:8.1f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
