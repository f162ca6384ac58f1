"""Benchmark regdemo against the lecture's own way of training, on the same work, in one process run.

    python scripts/benchmark.py                        # a minute or two; needs psutil
    python scripts/benchmark.py --compiled-epochs 200 --fit-epochs 20 --skip-e2e   # a quick look

On configs/lecture.yaml's ``no_reg`` and ``l2`` runs (moons 100, Dense 128-128-1, Adam 0.01, batch 32; L2 λ=0.001):
1. ``regdemo.train.build.train_run`` with ``engine: compiled`` and ``engine: fit``: wall time, time to the first
   progress report, and the steady ms/epoch from the first report to the last (trace excluded);
2. the lecture's own script (``scripts/lecture_fit_baseline.py``, ``model.fit``) as a subprocess: ms/epoch;
3. ``regdemo.train.metrics.boundary_grid`` on lecture.yaml's 300×300 points (median of 5, after a warm-up call)
   versus one ``model.predict`` on the same points;
4. ``regdemo run configs/lecture.yaml --quiet``: wall time and peak memory of its process tree (driver and
   workers, PSS and RSS summed, sampled every 50 ms);
5. the training film: the ``no_reg`` run's training time with ``plots.snapshots`` 0 and 20 (alternating, best
   of ``--film-repeats``), and the time to draw and encode its 20 frames.
Absolute times drift on shared machines; compare the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from regdemo.config.loading import load_experiment  # pydantic only: no TensorFlow yet
from regdemo.train.tfsetup import load_tensorflow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scripts" / "lecture_fit_baseline.py"
LECTURE_CONFIG = REPO / "configs" / "lecture.yaml"
REGULARIZERS = {"none": "no_reg", "l2": "l2"}  # regularizer → its variant in configs/lecture.yaml
GRID_REPEATS = 5
FIT_GOAL, GRID_S, E2E_S, E2E_MIB, FILM_COST = 50, 0.2, 20, 1500, 1.25  # the targets
SNAPSHOTS = 20  # issue #11's yardstick: 20 snapshots cost at most +25 % of a run's training time
console, notes = Console(), Console(stderr=True, style="dim")


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call, and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def ratio(slow: float | None, fast: float | None) -> float | None:
    return slow / fast if slow and fast else None


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def time_training(engine: str, regularizer: str, epochs: int) -> tuple[dict[str, Any], Any]:
    """Build and train a fresh lecture net once, timestamping every progress report; return the timing and
    the model. Building the net (a few ms) counts in the total and the first report."""
    from regdemo.train.build import train_run

    runs = load_experiment(LECTURE_CONFIG, sets=[f"training.engine={engine}", f"training.epochs={epochs}"]).runs
    cfg = next(c for c in runs if c.variant == REGULARIZERS[regularizer])
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()
    model = train_run(cfg, lambda done: marks.append((done, time.perf_counter()))).model
    total = time.perf_counter() - started
    (first_epochs, first_t), (last_epochs, last_t) = marks[0], marks[-1]
    steady = 1000 * (last_t - first_t) / (last_epochs - first_epochs) if last_epochs > first_epochs else None
    first, wall_ms = f"{first_t - started:.2f} @{first_epochs}", 1000 * total / epochs
    row = (engine, regularizer, epochs, f"{total:.2f}", first, fmt(steady, ".3f"), f"{wall_ms:.3f}")
    return {"row": row, "steady_ms": steady, "wall_ms": wall_ms}, model


def run_baseline(epochs: int, regularizer: str) -> dict[str, Any]:
    """The lecture's baseline script as a subprocess (TF_CPP_MIN_LOG_LEVEL inherited): its JSON line."""
    command = [sys.executable, str(BASELINE), "--epochs", str(epochs), "--regularizer", regularizer]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{BASELINE.name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def time_grid(model: Any, cfg: Any) -> tuple[int, float, float, float, float]:
    """``boundary_grid`` on the box ``cfg``: (points, first call s, median s after it, one ``model.predict``
    on the same points s, max |difference|)."""
    import numpy as np

    from regdemo.train.metrics import boundary_grid

    unused = np.zeros((1, 2), dtype=np.float32)  # the data only matter when the box is not configured
    warmup, grid = timed(lambda: boundary_grid(model, cfg, unused))
    median = statistics.median(timed(lambda: boundary_grid(model, cfg, unused))[0] for _ in range(GRID_REPEATS))
    points = np.c_[grid.xx.ravel(), grid.yy.ravel()]
    predict_s, predicted = timed(lambda: model.predict(points, verbose=0))
    return len(points), warmup, median, predict_s, float(np.max(np.abs(predicted.reshape(grid.prob.shape) - grid.prob)))


def time_snapshots(repeats: int) -> tuple[dict[int, float], float]:
    """Training seconds (``History.seconds``, recording included) of the lecture's ``no_reg`` run with
    ``plots.snapshots`` 0 and SNAPSHOTS, alternating, best of ``repeats`` each; and the seconds to draw and
    encode the last run's film."""
    from regdemo.draw import film
    from regdemo.runs.one_run import compute_run

    runs = {n: load_experiment(LECTURE_CONFIG, sets=[f"plots.snapshots={n}"]).runs[0] for n in (0, SNAPSHOTS)}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for n, cfg in runs.items():
            result = compute_run(cfg)
            best[n] = min(best[n], result.history.seconds)
    draw, _ = timed(lambda: film.encode(film.frames(result.film, result.view)))
    return best, draw


def run_end_to_end(out_dir: Path) -> tuple[float, float, float, int, str]:
    """``regdemo run configs/lecture.yaml --quiet``: (wall s, peak PSS MiB, peak RSS MiB, exit status, stderr's
    tail), memory summed over its process tree (driver and workers), sampled every 50 ms. RSS counts the shared
    TensorFlow library pages once per process; PSS splits them between the processes sharing them, so its sum
    is what the machine holds."""
    command = [sys.executable, "-m", "regdemo", "run", str(LECTURE_CONFIG), "--out", str(out_dir), "--quiet"]
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        root, peak_rss, peak = psutil.Process(proc.pid), 0.0, 0.0
        while proc.poll() is None:
            rss = pss = 0
            for child in [root, *root.children(recursive=True)]:
                try:
                    info = child.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # the process ended while we looked
                rss, pss = rss + info.rss, pss + info.pss
            peak_rss, peak = max(peak_rss, rss / 2**20), max(peak, pss / 2**20)
            time.sleep(0.05)
        wall = time.perf_counter() - started
        err.seek(0)
        return wall, peak, peak_rss, proc.returncode, err.read().decode(errors="replace").strip()[-500:]


def table(title: str, columns: str, rows: list[tuple[Any, ...]], left: int, caption: str | None = None) -> Table:
    """A rich table: ``columns`` separated by '|', the first ``left`` of them left-aligned."""
    out = Table(title=title, caption=caption)
    for i, column in enumerate(columns.split("|")):
        out.add_column(column, justify="left" if i < left else "right")
    for row in rows:
        out.add_row(*map(str, row))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled-epochs", type=int, default=2000, help="epochs for engine: compiled (default 2000)")
    parser.add_argument("--fit-epochs", type=int, default=100, help="epochs for engine: fit and the lecture script")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end `regdemo run` subprocess")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the lecture's baseline script")
    parser.add_argument("--film-repeats", type=int, default=3, help="runs per snapshot setting (0: skip)")
    args = parser.parse_args()
    if args.compiled_epochs < 1 or args.fit_epochs < 1:
        parser.error("epochs must be >= 1")
    load_tensorflow()  # quietly, before anything else imports it
    from regdemo.runs.one_run import versions

    v = versions()
    console.print(
        f"[bold]regdemo benchmark[/bold]  cpus={os.cpu_count()}  {platform.platform()}  python {v['python']}  "
        f"tensorflow {v['tensorflow']}  keras {v['keras']}  regdemo {v['regdemo']}"
    )
    timings: dict[tuple[str, str], dict[str, Any]] = {}
    model = None
    for engine, epochs in (("compiled", args.compiled_epochs), ("fit", args.fit_epochs)):
        for reg in REGULARIZERS:
            notes.print(f"training: {engine} / {reg}, {epochs} epochs …")
            timings[engine, reg], trained = time_training(engine, reg, epochs)
            model = trained if (engine, reg) == ("compiled", "l2") else model
    notes.print("decision grid …")
    box = load_experiment(LECTURE_CONFIG).runs[0].plots.boundary  # the lecture's box, 300×300
    points, warmup, median, predict_s, max_diff = time_grid(model, box)
    film = None
    if args.film_repeats > 0:
        notes.print(f"training film: plots.snapshots 0 vs {SNAPSHOTS}, {args.film_repeats} runs each …")
        film = time_snapshots(args.film_repeats)
    baselines = {}
    for reg in [] if args.skip_baseline else REGULARIZERS:
        notes.print(f"lecture script: {reg}, {args.fit_epochs} epochs …")
        baselines[reg] = run_baseline(args.fit_epochs, reg)
    e2e = None
    if not args.skip_e2e:
        notes.print("end to end: regdemo run configs/lecture.yaml …")
        with tempfile.TemporaryDirectory(prefix="regdemo-bench-") as tmp:
            e2e = run_end_to_end(Path(tmp))

    rows = [t["row"] for t in timings.values()]
    for reg, b in baselines.items():
        rows.append(("lecture script", reg, b["epochs"], f"{b['fit_s']:.2f}", "—", "—", f"{b['ms_per_epoch']:.3f}"))
    caption = (
        "1st report: compiled = trace + compile + first 100-epoch chunk; fit = setup + trace + epoch 1. steady = "
        "first to last report (trace excluded); wall = total ÷ epochs. Lecture script: in a subprocess."
    )
    columns = "engine|reg|epochs|wall s|1st report s @epoch|steady ms/ep|wall ms/ep"
    console.print(table("1–2. Training the lecture net", columns, rows, 2, caption))

    rows = []

    def add(measure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((measure, value, target, "" if ok is None else "[green]✓[/green]" if ok else "[red]✗ missed[/red]"))

    for reg in REGULARIZERS:
        fit, compiled = timings["fit", reg], timings["compiled", reg]
        steady = ratio(fit["steady_ms"], compiled["steady_ms"])
        met = None if steady is None else steady >= FIT_GOAL
        add(f"fit ÷ compiled, steady state ({reg})", fmt(steady, ".1f", "×"), f"≥ {FIT_GOAL}×", met)
        add(f"fit ÷ compiled, wall incl. trace ({reg})", fmt(ratio(fit["wall_ms"], compiled["wall_ms"]), ".1f", "×"))
    for reg, b in baselines.items():
        lecture = ratio(b["ms_per_epoch"], timings["compiled", reg]["steady_ms"])
        add(f"lecture script (wall) ÷ compiled steady ({reg})", fmt(lecture, ".1f", "×"))
        add(f"lecture script predict, {b['grid_points']:,} pts ({reg})", f"{b['predict_s']:.3f} s")
    grid = f"boundary_grid, {points:,} pts (median of {GRID_REPEATS})"
    add(grid, f"{median:.3f} s", f"< {GRID_S} s", median < GRID_S)
    add("boundary_grid first call (warm-up)", f"{warmup:.3f} s")
    add(f"model.predict, same {points:,} pts (once)", f"{predict_s:.3f} s")
    add("max |boundary_grid − predict|", f"{max_diff:.1e}")
    add("predict ÷ boundary_grid", fmt(ratio(predict_s, median), ".0f", "×"))
    if film:
        (off, on), draw = film[0].values(), film[1]
        label = f"training, plots.snapshots 0 / {SNAPSHOTS} (no_reg, best of {args.film_repeats})"
        add(label, f"{off:.2f} / {on:.2f} s")
        add(f"... {SNAPSHOTS} ÷ 0", f"{on / off:.3f}×", f"≤ {FILM_COST}×", on / off <= FILM_COST)
        add(f"training.gif + training_frames.png, {SNAPSHOTS} frames: draw and encode", f"{draw:.2f} s")
    if e2e:
        wall, peak, peak_rss, status, _ = e2e
        add("regdemo run lecture.yaml, wall", f"{wall:.1f} s", f"< {E2E_S} s", wall < E2E_S and status == 0)
        memory = "regdemo run lecture.yaml, peak memory (PSS, all processes)"
        add(memory, f"{peak:.0f} MiB", f"< {E2E_MIB} MiB", peak < E2E_MIB)
        add("... the same as summed RSS (shared pages counted per process)", f"{peak_rss:.0f} MiB")
    console.print(table("Headline figures", "measure|value|target|", rows, 1))
    if e2e and e2e[3] != 0:
        console.print(f"[red]regdemo run failed:[/red] {e2e[4]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
