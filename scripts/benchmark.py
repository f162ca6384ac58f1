"""Benchmark regdemo against the lecture's own way of training, on the same work, in one process run.

Run from the repository root (takes a minute or two)::

    python scripts/benchmark.py
    python scripts/benchmark.py --compiled-epochs 2000 --fit-epochs 100 --json bench.json
    python scripts/benchmark.py --skip-e2e --skip-baseline      # in-process measurements only

What it measures (the lecture net: moons 100/0.25/rs 2, Dense 128-128-1 relu, Adam 0.01, batch 32,
validation split 0.2; regularizer none and L2 λ=0.001):

1. ``regdemo.training.train`` with ``engine: compiled`` and ``engine: fit``. For each run it reports the
   total wall time, the time to the first progress report (compiled: trace + compile + the first
   100-epoch chunk; fit: setup + trace + epoch 1) and the steady-state ms/epoch measured between the
   first and last progress reports, i.e. with the one-off trace/compile cost excluded.
2. The lecture's own script (``../shared/bench/lecture_fit_baseline.py``) as a subprocess: its ms/epoch
   (``model.fit``, first-epoch trace included) and its ``model.predict`` time on its grid.
3. ``regdemo.metrics.boundary_grid`` on 300×300 = 90,000 points (after one warm-up call) versus one
   ``model.predict`` on the same points.
4. ``regdemo run configs/lecture.yaml --quiet`` end to end as a subprocess: wall seconds and the
   child's peak resident memory (``ru_maxrss`` from ``os.wait4`` for exactly that child).

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from regdemo.config import BoundaryPlotConfig, RunConfig  # pydantic only: no TensorFlow yet

if TYPE_CHECKING:
    import keras

# Before anything imports TensorFlow (keras and the rest of regdemo are imported inside functions).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / ".." / "shared" / "bench" / "lecture_fit_baseline.py"
LECTURE_CONFIG = REPO / "configs" / "lecture.yaml"
SEED = 2
LAMBDA = 0.001
REGULARIZERS = ("none", "l2")
GRID_RESOLUTION = 300
GRID_REPEATS = 5
TARGETS = {"fit_over_compiled": 50.0, "grid_s": 0.2, "e2e_s": 20.0, "e2e_peak_mb": 1500.0}

console = Console()
notes = Console(stderr=True, style="dim")


@dataclass
class TrainTiming:
    """One training run: wall time, the first progress report, and the steady state after it."""

    engine: str
    regularizer: str
    epochs: int
    total_s: float
    first_report_s: float
    first_report_epochs: int
    steady_ms_per_epoch: float | None
    status: str

    @property
    def wall_ms_per_epoch(self) -> float:
        """Total wall time over epochs, one-off trace/compile cost included."""
        return 1000.0 * self.total_s / self.epochs


@dataclass
class GridTiming:
    """``boundary_grid`` (median and best of repeats, after a warm-up) versus one ``model.predict``."""

    points: int
    warmup_s: float
    grid_median_s: float
    grid_best_s: float
    predict_s: float
    max_abs_diff: float


@dataclass
class EndToEnd:
    """``regdemo run configs/lecture.yaml`` as a child process."""

    command: list[str]
    wall_s: float
    peak_mb: float  # PSS summed over the process tree
    peak_rss_mb: float  # RSS summed (shared library pages counted once per process)
    returncode: int
    stderr_tail: str


# ---------------------------------------------------------------- environment


def machine_info() -> dict[str, Any]:
    """CPU count, platform, and the library versions regdemo reports (imports TensorFlow, quietly)."""
    from regdemo.tfsetup import load_tensorflow

    load_tensorflow()
    from regdemo.experiment import versions

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": versions(),
    }


def lecture_config(engine: str, regularizer: str, epochs: int) -> RunConfig:
    """The configs/lecture.yaml run with the given engine, regularizer (none or l2 at λ) and epochs."""
    lam = 0.0 if regularizer == "none" else LAMBDA
    return RunConfig(
        name=f"bench-{engine}-{regularizer}",
        experiment="benchmark",
        seed=SEED,
        dataset={"kind": "moons", "n_samples": 100, "noise": 0.25, "random_state": 2, "validation_split": 0.2},
        model={"hidden_units": [128, 128], "activation": "relu", "regularizer": {"kind": regularizer, "lambda": lam}},
        training={
            "optimizer": "adam",
            "learning_rate": 0.01,
            "epochs": epochs,
            "batch_size": 32,
            "engine": engine,
        },
    )


# ---------------------------------------------------------------- 1. training engines


def time_training(engine: str, regularizer: str, epochs: int) -> tuple[TrainTiming, keras.Model]:
    """Train a fresh lecture net once, timestamping every progress report; return the timing and model."""
    import keras

    from regdemo import datasets, models, training

    cfg = lecture_config(engine, regularizer, epochs)
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = models.build_model(cfg.model)
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()
    history = training.train(
        model, data, cfg.training, cfg.seed, lambda done: marks.append((done, time.perf_counter()))
    )
    total = time.perf_counter() - started
    (first_epochs, first_t), (last_epochs, last_t) = marks[0], marks[-1]
    steady = 1000.0 * (last_t - first_t) / (last_epochs - first_epochs) if last_epochs > first_epochs else None
    timing = TrainTiming(engine, regularizer, epochs, total, first_t - started, first_epochs, steady, history.status)
    return timing, model


def ratio(slow: float | None, fast: float | None) -> float | None:
    """``slow / fast``, or None when either is missing."""
    return slow / fast if slow and fast else None


def engine_ratios(runs: list[TrainTiming]) -> dict[str, dict[str, float | None]]:
    """Per regularizer: fit ÷ compiled ms/epoch, steady state vs steady state and wall vs wall."""
    by_key = {(r.engine, r.regularizer): r for r in runs}
    out: dict[str, dict[str, float | None]] = {}
    for reg in REGULARIZERS:
        fit, compiled = by_key[("fit", reg)], by_key[("compiled", reg)]
        out[reg] = {
            "steady": ratio(fit.steady_ms_per_epoch, compiled.steady_ms_per_epoch),
            "wall": ratio(fit.wall_ms_per_epoch, compiled.wall_ms_per_epoch),
        }
    return out


# ---------------------------------------------------------------- 2. the lecture's own script


def run_baseline(epochs: int, regularizer: str) -> dict[str, Any]:
    """Run the lecture's baseline script as a subprocess and return its JSON line (plus our wall time)."""
    command = [sys.executable, str(BASELINE), "--epochs", str(epochs), "--regularizer", regularizer]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{BASELINE.name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return {**json.loads(lines[-1]), "subprocess_wall_s": wall}


# ---------------------------------------------------------------- 3. the decision grid


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call, and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def time_grid(model: keras.Model) -> GridTiming:
    """``boundary_grid`` at 300×300 after one warm-up call, versus one ``model.predict`` on its points."""
    import numpy as np

    from regdemo.metrics import boundary_grid

    cfg = BoundaryPlotConfig(xlim=[-2.0, 3.0], ylim=[-1.5, 2.0], resolution=GRID_RESOLUTION)  # the lecture's box
    unused = np.zeros((1, 2), dtype=np.float32)  # the data only matter when the box is not configured
    warmup, grid = timed(lambda: boundary_grid(model, cfg, unused))
    runs = [timed(lambda: boundary_grid(model, cfg, unused))[0] for _ in range(GRID_REPEATS)]
    points = np.c_[grid.xx.ravel(), grid.yy.ravel()]
    predict_s, predicted = timed(lambda: model.predict(points, verbose=0))
    diff = float(np.max(np.abs(predicted.reshape(grid.prob.shape) - grid.prob)))
    return GridTiming(len(points), warmup, statistics.median(runs), min(runs), predict_s, diff)


# ---------------------------------------------------------------- 4. end to end


def regdemo_command() -> list[str]:
    """The ``regdemo`` executable next to this interpreter, or ``python -m regdemo``."""
    exe = Path(sys.executable).parent / "regdemo"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "regdemo"]


def _tree_memory_mb(root: int) -> tuple[float, float]:
    """(RSS, PSS) of ``root`` and all its descendants (worker processes included), from /proc, in MiB.

    RSS counts the shared TensorFlow library pages once per process; PSS splits them between the
    processes that share them, so its sum is what the machine actually holds.
    """
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue  # the process ended while we looked
    tree, grew = {root}, True
    while grew:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        grew, tree = grown != tree, grown
    totals = {"Rss:": 0, "Pss:": 0}
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, value = line.split()[:2]
                if key in totals:
                    totals[key] += int(value)  # KiB
        except (OSError, ValueError):
            continue
    return totals["Rss:"] / 1024, totals["Pss:"] / 1024


def run_end_to_end(out_dir: Path) -> EndToEnd:
    """``regdemo run configs/lecture.yaml --out DIR --quiet``: wall time and the peak memory of its whole
    process tree (the driver and its worker processes), sampled every 50 ms from /proc."""
    command = [*regdemo_command(), "run", str(LECTURE_CONFIG), "--out", str(out_dir), "--quiet"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        peak_rss = peak = 0.0
        while proc.poll() is None:
            rss, pss = _tree_memory_mb(proc.pid)
            peak_rss, peak = max(peak_rss, rss), max(peak, pss)
            time.sleep(0.05)
        wall = time.perf_counter() - started
        err.seek(0)
        tail = err.read().decode(errors="replace").strip()[-500:]
    return EndToEnd(command, wall, peak, peak_rss, proc.returncode, tail)


# ---------------------------------------------------------------- report


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    """``value`` formatted, or an em dash when missing."""
    return "—" if value is None else f"{value:{spec}}{suffix}"


def verdict(ok: bool | None) -> str:
    """A coloured pass/miss mark."""
    return "" if ok is None else ("[green]✓[/green]" if ok else "[red]✗ missed[/red]")


def training_table(runs: list[TrainTiming], baselines: dict[str, dict[str, Any]]) -> Table:
    """One row per training run (ours and the lecture script's)."""
    table = Table(title="1–2. Training the lecture net")
    for column in ("engine", "reg", "epochs", "wall s", "1st report s @epoch", "steady ms/ep", "wall ms/ep"):
        table.add_column(column, justify="left" if column in ("engine", "reg") else "right")
    for r in runs:
        steady = fmt(r.steady_ms_per_epoch, ".3f")
        first = f"{r.first_report_s:.2f} @{r.first_report_epochs}"
        table.add_row(
            r.engine, r.regularizer, str(r.epochs), f"{r.total_s:.2f}", first, steady, f"{r.wall_ms_per_epoch:.3f}"
        )
    for reg, b in baselines.items():
        table.add_row(
            "lecture script", reg, str(b["epochs"]), f"{b['fit_s']:.2f}", "—", "—", f"{b['ms_per_epoch']:.3f}"
        )
    table.caption = (
        "compiled/fit: regdemo.training.train in this process; lecture script: its model.fit, in a subprocess. "
        "1st report: compiled = trace + compile + first 100-epoch chunk; fit = setup + trace + epoch 1. "
        "steady = from first to last report (trace excluded); wall = total ÷ epochs (trace included)."
    )
    return table


def headline_rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(measure, value, target, met?) for the headline figures present in ``result``."""
    rows: list[tuple[str, str, str, bool | None]] = []
    goal = TARGETS["fit_over_compiled"]
    for reg, r in result["engine_ratios"].items():
        steady, wall = r["steady"], r["wall"]
        rows.append(
            (
                f"fit ÷ compiled, steady state ({reg})",
                fmt(steady, ".1f", "×"),
                f"≥ {goal:g}×",
                None if steady is None else steady >= goal,
            )
        )
        rows.append((f"fit ÷ compiled, wall incl. trace ({reg})", fmt(wall, ".1f", "×"), "", None))
    for reg, b in result.get("baseline", {}).items():
        rows.append(
            (
                f"lecture script (wall) ÷ compiled steady ({reg})",
                fmt(b["ratio_to_compiled_steady"], ".1f", "×"),
                "",
                None,
            )
        )
        rows.append((f"lecture script predict, {b['grid_points']:,} pts ({reg})", f"{b['predict_s']:.3f} s", "", None))
    g = result["grid"]
    rows.append(
        (
            f"boundary_grid, {g['points']:,} pts (median of {GRID_REPEATS})",
            f"{g['grid_median_s']:.3f} s",
            f"< {TARGETS['grid_s']:g} s",
            g["grid_median_s"] < TARGETS["grid_s"],
        )
    )
    rows.append(("boundary_grid first call (warm-up)", f"{g['warmup_s']:.3f} s", "", None))
    rows.append((f"model.predict, same {g['points']:,} pts (once)", f"{g['predict_s']:.3f} s", "", None))
    rows.append(("max |boundary_grid − predict|", f"{g['max_abs_diff']:.1e}", "", None))
    rows.append(("predict ÷ boundary_grid", fmt(ratio(g["predict_s"], g["grid_median_s"]), ".0f", "×"), "", None))
    if "e2e" in result:
        e = result["e2e"]
        rows.append(
            (
                "regdemo run lecture.yaml, wall",
                f"{e['wall_s']:.1f} s",
                f"< {TARGETS['e2e_s']:g} s",
                e["wall_s"] < TARGETS["e2e_s"] and e["returncode"] == 0,
            )
        )
        rows.append(
            (
                "regdemo run lecture.yaml, peak memory (PSS, all processes)",
                f"{e['peak_mb']:.0f} MiB",
                f"< {TARGETS['e2e_peak_mb']:g} MiB",
                e["peak_mb"] < TARGETS["e2e_peak_mb"],
            )
        )
        rows.append(
            ("... the same as summed RSS (shared pages counted per process)", f"{e['peak_rss_mb']:.0f} MiB", "", None)
        )
    return rows


def headline_table(result: dict[str, Any]) -> Table:
    """The headline figures against their targets."""
    table = Table(title="Headline figures")
    for column in ("measure", "value", "target", ""):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for measure, value, target, ok in headline_rows(result):
        table.add_row(measure, value, target, verdict(ok))
    return table


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled-epochs", type=int, default=2000, help="epochs for engine: compiled (default 2000)")
    parser.add_argument("--fit-epochs", type=int, default=100, help="epochs for engine: fit and the lecture script")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end `regdemo run` subprocess")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the lecture's baseline script")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.compiled_epochs < 1 or args.fit_epochs < 1:
        parser.error("epochs must be >= 1")
    return args


def measure_training(args: argparse.Namespace) -> tuple[list[TrainTiming], keras.Model]:
    """Section 1: both engines × both regularizers; returns the timings and the compiled L2 model."""
    runs, kept = [], None
    for engine, epochs in (("compiled", args.compiled_epochs), ("fit", args.fit_epochs)):
        for reg in REGULARIZERS:
            notes.print(f"training: {engine} / {reg}, {epochs} epochs …")
            timing, model = time_training(engine, reg, epochs)
            runs.append(timing)
            if engine == "compiled" and reg == "l2":
                kept = model
    return runs, kept


def measure_baselines(args: argparse.Namespace, runs: list[TrainTiming]) -> dict[str, dict[str, Any]]:
    """Section 2: the lecture script per regularizer, with its ratio to our compiled steady state."""
    if args.skip_baseline:
        return {}
    if not BASELINE.exists():
        console.print(f"[yellow]note:[/yellow] {BASELINE} not found; lecture baseline skipped")
        return {}
    compiled = {r.regularizer: r for r in runs if r.engine == "compiled"}
    out = {}
    for reg in REGULARIZERS:
        notes.print(f"lecture script: {reg}, {args.fit_epochs} epochs …")
        b = run_baseline(args.fit_epochs, reg)
        b["ratio_to_compiled_steady"] = ratio(b["ms_per_epoch"], compiled[reg].steady_ms_per_epoch)
        out[reg] = b
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine_info()
    v = info["versions"]
    console.print(
        f"[bold]regdemo benchmark[/bold]  cpus={info['cpu_count']}  {info['platform']}  "
        f"python {v['python']}  tensorflow {v['tensorflow']}  keras {v['keras']}  regdemo {v['regdemo']}"
    )
    runs, model = measure_training(args)
    notes.print("decision grid …")
    grid = time_grid(model)
    baselines = measure_baselines(args, runs)
    result: dict[str, Any] = {
        "machine": info,
        "args": {k: str(val) if isinstance(val, Path) else val for k, val in vars(args).items()},
        "training": [{**asdict(r), "wall_ms_per_epoch": r.wall_ms_per_epoch} for r in runs],
        "engine_ratios": engine_ratios(runs),
        "baseline": baselines,
        "grid": asdict(grid),
        "targets": TARGETS,
    }
    if not args.skip_e2e:
        notes.print("end to end: regdemo run configs/lecture.yaml …")
        with tempfile.TemporaryDirectory(prefix="regdemo-bench-") as tmp:
            result["e2e"] = asdict(run_end_to_end(Path(tmp)))
    console.print(training_table(runs, baselines))
    console.print(headline_table(result))
    if result.get("e2e", {}).get("returncode", 0) != 0:
        console.print(f"[red]regdemo run failed:[/red] {result['e2e']['stderr_tail']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")
    return 1 if result.get("e2e", {}).get("returncode", 0) != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
