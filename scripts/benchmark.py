"""Benchmark regdemo against the lecture's own way of training, on the same work, in one process run.

Run from the repository root (takes a minute or two)::

    python scripts/benchmark.py
    python scripts/benchmark.py --compiled-epochs 2000 --fit-epochs 100 --json bench.json
    python scripts/benchmark.py --skip-e2e --skip-baseline      # in-process measurements only

What it measures, on configs/lecture.yaml's ``no_reg`` and ``l2`` runs (moons 100/0.25/rs 2, Dense
128-128-1 relu, Adam 0.01, batch 32, validation split 0.2; L2 λ=0.001):

1. Each run built and trained by ``regdemo.experiment.train_run`` with ``engine: compiled`` and ``engine:
   fit`` (``--set``-style overrides): its total wall time, the time to the first progress report
   (compiled: trace + compile + the first 100-epoch chunk; fit: setup + trace + epoch 1) and the
   steady-state ms/epoch between the first and last progress reports (trace/compile cost excluded).
2. The lecture's own script (``scripts/lecture_fit_baseline.py``) as a subprocess: its ms/epoch
   (``model.fit``, first-epoch trace included) and its ``model.predict`` time on its grid.
3. ``regdemo.metrics.boundary_grid`` on lecture.yaml's 300×300 = 90,000 points (after one warm-up call)
   versus one ``model.predict`` on the same points.
4. ``regdemo run configs/lecture.yaml --quiet`` end to end as a subprocess: wall seconds and the peak
   memory of its process tree (driver and workers; PSS and RSS summed, sampled every 50 ms with psutil).

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

import psutil
from rich.console import Console
from rich.table import Table

from regdemo.config import load_experiment  # pydantic only: no TensorFlow yet
from regdemo.schema import BoundaryPlotConfig, RunConfig

if TYPE_CHECKING:
    import keras

# Before anything imports TensorFlow (keras and the rest of regdemo are imported inside functions).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scripts" / "lecture_fit_baseline.py"
LECTURE_CONFIG = REPO / "configs" / "lecture.yaml"
REGULARIZERS = {"none": "no_reg", "l2": "l2"}  # regularizer → its variant in configs/lecture.yaml
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

    info = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine()}
    return {**info, "versions": versions()}


def lecture_config(engine: str, regularizer: str, epochs: int) -> RunConfig:
    """configs/lecture.yaml's run with ``regularizer`` (none or l2), with the given engine and epochs."""
    sets = [f"training.engine={engine}", f"training.epochs={epochs}"]
    runs = load_experiment(LECTURE_CONFIG, sets=sets).runs
    return next(cfg for cfg in runs if cfg.variant == REGULARIZERS[regularizer])


# ---------------------------------------------------------------- 1. training engines


def time_training(engine: str, regularizer: str, epochs: int) -> tuple[TrainTiming, keras.Model]:
    """Build and train a fresh lecture net once (``train_run``), timestamping every progress report;
    return the timing and model. Building the net (a few ms) counts in the total and first report."""
    from regdemo.experiment import train_run

    cfg = lecture_config(engine, regularizer, epochs)
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()
    trained = train_run(cfg, lambda done: marks.append((done, time.perf_counter())))
    total = time.perf_counter() - started
    (first_epochs, first_t), (last_epochs, last_t) = marks[0], marks[-1]
    steady = 1000.0 * (last_t - first_t) / (last_epochs - first_epochs) if last_epochs > first_epochs else None
    timing = TrainTiming(
        engine, regularizer, epochs, total, first_t - started, first_epochs, steady, trained.history.status
    )
    return timing, trained.model


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call, and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def ratio(slow: float | None, fast: float | None) -> float | None:
    """``slow / fast``, or None when either is missing."""
    return slow / fast if slow and fast else None


def engine_ratios(runs: list[TrainTiming]) -> dict[str, dict[str, float | None]]:
    """Per regularizer: fit ÷ compiled ms/epoch, steady state vs steady state and wall vs wall."""
    fit = {r.regularizer: r for r in runs if r.engine == "fit"}
    compiled = {r.regularizer: r for r in runs if r.engine == "compiled"}
    return {
        reg: {
            "steady": ratio(fit[reg].steady_ms_per_epoch, compiled[reg].steady_ms_per_epoch),
            "wall": ratio(fit[reg].wall_ms_per_epoch, compiled[reg].wall_ms_per_epoch),
        }
        for reg in REGULARIZERS
    }


# ---------------------------------------------------------------- 2. the lecture's own script


def run_baseline(epochs: int, regularizer: str) -> dict[str, Any]:
    """Run the lecture's baseline script as a subprocess and return its JSON line (plus our wall time)."""
    command = [sys.executable, str(BASELINE), "--epochs", str(epochs), "--regularizer", regularizer]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    wall, done = timed(lambda: subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False))
    lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{BASELINE.name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return {**json.loads(lines[-1]), "subprocess_wall_s": wall}


# ---------------------------------------------------------------- 3. the decision grid


def time_grid(model: keras.Model, cfg: BoundaryPlotConfig) -> GridTiming:
    """``boundary_grid`` on the box ``cfg`` after one warm-up call, versus one ``model.predict`` on its points."""
    import numpy as np

    from regdemo.metrics import boundary_grid

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


def tree_memory_mb(root: psutil.Process) -> tuple[float, float]:
    """(RSS, PSS) of ``root`` and all its descendants (worker processes included), in MiB.

    RSS counts the shared TensorFlow library pages once per process; PSS splits them between the
    processes that share them, so its sum is what the machine actually holds.
    """
    rss = pss = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # the process ended while we looked
        rss, pss = rss + info.rss, pss + info.pss
    return rss / 2**20, pss / 2**20


def run_end_to_end(out_dir: Path) -> EndToEnd:
    """``regdemo run configs/lecture.yaml --out DIR --quiet``: wall time and the peak memory of its whole
    process tree (the driver and its worker processes), sampled every 50 ms."""
    command = [*regdemo_command(), "run", str(LECTURE_CONFIG), "--out", str(out_dir), "--quiet"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        root, peak_rss, peak = psutil.Process(proc.pid), 0.0, 0.0
        while proc.poll() is None:
            rss, pss = tree_memory_mb(root)
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
        "compiled/fit: regdemo.experiment.train_run in this process; lecture script: its model.fit, in a subprocess. "
        "1st report: compiled = trace + compile + first 100-epoch chunk; fit = setup + trace + epoch 1. "
        "steady = from first to last report (trace excluded); wall = total ÷ epochs (trace included)."
    )
    return table


def headline_rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(measure, value, target, met?) for the headline figures present in ``result``."""
    rows: list[tuple[str, str, str, bool | None]] = []

    def add(measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append((measure, value, target, met))

    goal = TARGETS["fit_over_compiled"]
    for reg, r in result["engine_ratios"].items():
        met = None if r["steady"] is None else r["steady"] >= goal
        add(f"fit ÷ compiled, steady state ({reg})", fmt(r["steady"], ".1f", "×"), f"≥ {goal:g}×", met)
        add(f"fit ÷ compiled, wall incl. trace ({reg})", fmt(r["wall"], ".1f", "×"))
    for reg, b in result.get("baseline", {}).items():
        add(f"lecture script (wall) ÷ compiled steady ({reg})", fmt(b["ratio_to_compiled_steady"], ".1f", "×"))
        add(f"lecture script predict, {b['grid_points']:,} pts ({reg})", f"{b['predict_s']:.3f} s")
    g, limit = result["grid"], TARGETS["grid_s"]
    median = g["grid_median_s"]
    add(
        f"boundary_grid, {g['points']:,} pts (median of {GRID_REPEATS})",
        f"{median:.3f} s",
        f"< {limit:g} s",
        median < limit,
    )
    add("boundary_grid first call (warm-up)", f"{g['warmup_s']:.3f} s")
    add(f"model.predict, same {g['points']:,} pts (once)", f"{g['predict_s']:.3f} s")
    add("max |boundary_grid − predict|", f"{g['max_abs_diff']:.1e}")
    add("predict ÷ boundary_grid", fmt(ratio(g["predict_s"], median), ".0f", "×"))
    if "e2e" in result:
        e, wall, peak = result["e2e"], TARGETS["e2e_s"], TARGETS["e2e_peak_mb"]
        ok = e["wall_s"] < wall and e["returncode"] == 0
        add("regdemo run lecture.yaml, wall", f"{e['wall_s']:.1f} s", f"< {wall:g} s", ok)
        measure = "regdemo run lecture.yaml, peak memory (PSS, all processes)"
        add(measure, f"{e['peak_mb']:.0f} MiB", f"< {peak:g} MiB", e["peak_mb"] < peak)
        add("... the same as summed RSS (shared pages counted per process)", f"{e['peak_rss_mb']:.0f} MiB")
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
            kept = model if (engine, reg) == ("compiled", "l2") else kept
    return runs, kept


def measure_baselines(args: argparse.Namespace, runs: list[TrainTiming]) -> dict[str, dict[str, Any]]:
    """Section 2: the lecture script per regularizer, with its ratio to our compiled steady state."""
    if args.skip_baseline:
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
    grid = time_grid(model, load_experiment(LECTURE_CONFIG).runs[0].plots.boundary)  # the lecture's box, 300×300
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
