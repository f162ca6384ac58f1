"""Per-run overhead of the Ray backend against the local pool, at a few hundred tiny runs.

    python scripts/bench_ray.py                  # 200 runs (2 kinds x 10 lambdas x 10 seeds), 2 workers each
    python scripts/bench_ray.py --seeds 25       # 500 runs

Runs are tiny (one 8-unit layer, 3 epochs, a 12x12 grid): what is measured is the machinery around a run.
In this process, in ms per run: wall time on each backend (2 workers; Ray: its own local instance); Ray
scheduling, empty tasks carrying a run's config, then returning as many bytes as a real run (the difference
is result transfer); the driver writing a run folder (``rundir.write_folder_files``); the end of the
experiment (``benchkit.time_reporting``) on all the runs and on half of them: the difference is the cost per
added run, extrapolated linearly to ``--scale`` runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import benchkit

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


def count(module, name: str) -> dict[str, float]:
    """Wrap ``module.name`` to add up its seconds and calls in the dict returned."""
    func, spent = getattr(module, name), {"seconds": 0.0, "calls": 0}

    def counted(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            spent["seconds"] += time.perf_counter() - started
            spent["calls"] += 1

    setattr(module, name, counted)
    return spent


def ray_task_overhead(cfg, payload_bytes: int, tasks: int, workers: int) -> tuple[float, float, float]:
    """(start-up s, ms per empty task, ms per task returning ``payload_bytes``) on a fresh local instance."""
    import ray

    from regdemo.runs.backends import ray as raybackend

    @ray.remote(num_cpus=1)
    def task(cfg, size: int) -> dict[str, bytes]:
        return {"payload": b"x" * size} if size else {}

    started = time.perf_counter()
    raybackend.connect(None, workers)
    startup, per_task = time.perf_counter() - started, []
    try:
        ray.get([task.remote(cfg, 0) for _ in range(2 * workers)])  # workers started
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per (kind, lambda): runs = 20 x seeds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=int, default=10_000, help="the run count to extrapolate to")
    args = parser.parse_args()
    from regdemo.config.loading import load_experiment
    from regdemo.options import RunOptions
    from regdemo.results import rundir
    from regdemo.runs.backends import ray as raybackend
    from regdemo.runs.runner import execute
    from regdemo.train.tfsetup import load_tensorflow

    load_tensorflow()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        config.write_text(CONFIG.replace("{seeds}", str(list(range(1, args.seeds + 1)))), encoding="utf-8")
        experiment, walls = load_experiment(config), {}
        n = len(experiment.runs)
        writes, connects = count(rundir, "write_folder_files"), count(raybackend, "connect")
        quiet = {"workers": args.workers, "progress": False}
        for backend in ("ray", "local"):
            started = time.perf_counter()
            outcome = execute(experiment, Path(tmp) / backend, RunOptions(backend=backend, **quiet), say=lambda _: None)
            assert not outcome.failed, outcome.failed
            walls[backend] = time.perf_counter() - started
        ray_init = connects["seconds"]  # before ray_task_overhead connects again
        exp_dir = Path(tmp) / "ray" / experiment.name
        run_dirs = [exp_dir / cfg.name for cfg in experiment.runs]
        per_run_bytes = sum(p.stat().st_size for d in run_dirs for p in d.rglob("*") if p.is_file()) / n
        startup, empty_ms, payload_ms = ray_task_overhead(experiment.runs[0], round(per_run_bytes), n, args.workers)
        reporting = benchkit.time_reporting(exp_dir, run_dirs)
        half_dir = Path(tmp) / "half" / experiment.name  # the same at half the runs: the marginal cost per run
        for run_dir in run_dirs[: n // 2]:
            shutil.copytree(run_dir, half_dir / run_dir.name)
        half = benchkit.time_reporting(half_dir, sorted(half_dir.iterdir()))

    def row(label: str, value: float, note: str = "", spec: str = "8.2f") -> None:
        print(f"  {label + ':':<32} {value:{spec}}" + (f"   {note}" if note else ""))

    ray_wall, local_wall, write_ms = (1000 * s / n for s in (walls["ray"], walls["local"], writes["seconds"]))
    print(f"{n} runs (1x8 net, 3 epochs, 12x12 grid), {args.workers} workers per backend; ms per run unless stated")
    row("wall, local pool", local_wall, f"({walls['local']:.1f} s in all)", "8.1f")
    row("wall, Ray (local instance)", ray_wall, f"({walls['ray']:.1f} s, of which {ray_init:.1f} s ray.init)", "8.1f")
    row("Ray minus local pool", ray_wall - local_wall, spec="8.1f")
    row("Ray scheduling, empty task", empty_ms, f"(instance start-up {startup:.1f} s, once)")
    row("Ray task + result transfer", payload_ms, f"({per_run_bytes / 1e3:.0f} kB per run returned)")
    row("driver writes a run folder", write_ms, f"({writes['calls']} folders, {1000 / write_ms:.0f} runs/s)")
    slope = {key: (reporting[key] - half[key]) / (n - n // 2) for key in reporting}  # per added run
    for key in ("load_runs", "summary.csv", "compare", "write_report"):
        spent = f"{half[key]:.1f} s for {n // 2} runs, {reporting[key]:.1f} s for {n}"
        row(key, 1000 * slope[key], f"per added run ({spent})")
    print(f"  report.html: {reporting['report_mb']:.1f} MB ({1000 * slope['report_mb']:.0f} kB per added run)")
    k = args.scale
    print(f"extrapolated to {k} runs (measured cost per run x {k}; linear, not measured), s:")
    row("driver writing", k * write_ms / 1000, f"({k * per_run_bytes / 1e9:.1f} GB through the driver)", "8.0f")
    row(f"Ray scheduling+transfer, {args.workers} CPUs", k * payload_ms / 1000, "", "8.0f")
    for key in ("summary.csv", "compare", "write_report"):
        row(key, reporting[key] + (k - n) * slope[key], "", "8.0f")
    row("report.html, GB", (reporting["report_mb"] + (k - n) * slope["report_mb"]) / 1000, "", "8.1f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
