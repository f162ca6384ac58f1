"""Benchmark regdemo against version 0.2 and the lecture's own way of training, on the same work, in one run.

    python scripts/benchmark.py                  # a few minutes: 2 repeats, the versions alternating
    python scripts/benchmark.py --quick          # a short check: 200 epochs, one repeat
    python scripts/benchmark.py --markdown > docs/benchmarks.md
    python scripts/benchmark.py --report         # only the end of a 1,000-run experiment (trained once)

Version 0.2 is the git revision ``--baseline`` (default 305d4a5), extracted with ``git archive`` into a temporary
folder and run in subprocesses with PYTHONPATH pointing there (it draws with seaborn: the ``bench`` extra);
"now" is this checkout. Each repeat runs 0.2 then now (A B A B ...) on the baseline's configs, the same work:

1. ``regdemo run configs/lecture.yaml`` (3 runs of 2000 epochs, the 21-frame film, checks, report): wall and
   CPU time, and the peak memory of its process tree (PSS summed over driver and workers, every 50 ms);
2. ``regdemo run configs/lambda_sweep.yaml`` (36 runs): wall and CPU time;
3. from those runs' metrics.json: training time per run-epoch (trace included), drawing time per run (PNGs; film);
   and (now only) the λ sweep's 36 runs in one pack (``python -m regdemo.train.packtiming``; 0.2: one run's);
4. the lecture's own training, ``scripts/lecture_fit_baseline.py`` (``model.fit``), ms per epoch.

Without git or the revision (or if it fails to run) only the current code is measured. ``--report`` times the
end of an experiment (``benchkit.time_reporting``) of 1,000 tiny runs (10 lambdas x 100 seeds of a 1x8 net,
5 epochs), trained into outputs/bench-report/ once; targets: well under a second per hundred runs, report.html
< 5 MB. Absolute times drift on a shared machine; ratios measured side by side drift less.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

import benchkit

REPO = Path(__file__).resolve().parents[1]
STORIES = {"lecture": Path("configs/lecture.yaml"), "sweep": Path("configs/lambda_sweep.yaml")}
ROWS = (  # (sample, what it is, format)
    ("lecture s", "lecture end to end (3 runs, film, report), s", ".1f"),
    ("lecture cpu", "... its CPU time (the process tree's), s", ".1f"),
    ("lecture MiB", "... its peak memory (PSS of the process tree), MiB", ".0f"),
    ("sweep s", "λ sweep end to end (36 runs), s", ".1f"),
    ("sweep cpu", "... its CPU time, s", ".1f"),
    ("train ms", "training per run-epoch, trace included, ms", ".3f"),
    ("pack ms", "training per run-epoch, the λ sweep's 36 lecture nets in one pack, trace included, ms", ".3f"),
    ("plot s", "drawing per run: the three PNGs, s", ".3f"),
    ("film s", "drawing per run: the film (21 frames), s", ".3f"),
)
REPORT_CONFIG = """\
name: bench-report
seed: 1
dataset: {kind: moons, n_samples: 40, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], activation: relu, regularizer: {kind: l2}}
training: {optimizer: adam, learning_rate: 0.01, epochs: 5, batch_size: 16, engine: compiled}
plots: {boundary: {xlim: [-2, 3], ylim: [-1.5, 2], resolution: 20}}
sweep: {model.regularizer.lambda: [0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0], seed: SEEDS}
"""
OTHER = """`--report`'s figures, and those of the other benchmark scripts, are printed, not kept here:
- `scripts/bench_ray.py`: the Ray backend's per-run cost against the local pool, at a few hundred tiny runs;
- `scripts/bench_judge.py`: `regdemo diff` and `regdemo check` on large synthetic experiments."""
ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
notes = Console(stderr=True, style="dim")


@dataclass
class Version:
    """One code base measured: its label, the folder PYTHONPATH points to, its configs' folder, its samples."""

    label: str
    root: Path
    configs: Path
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, *values: float) -> None:
        self.samples.setdefault(key, []).extend(values)


def git(*args: str, text: bool = True) -> str | bytes:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=text, check=True).stdout


def revision() -> str:
    """This checkout's short revision, ``+changes`` when tracked files differ from it ('unknown' without git)."""
    try:
        changed = "+changes" if git("status", "--porcelain", "-uno") else ""
        return git("rev-parse", "--short", "HEAD").strip() + changed
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def extract(rev: str, into: Path) -> Path | None:
    """The code at git revision ``rev`` in ``into``, or None (said on stderr) without git or the revision."""
    try:
        archive = git("archive", rev, text=False)
    except (OSError, subprocess.CalledProcessError) as exc:
        notes.print(f"[red]baseline {rev} unavailable ({exc}): measuring the current code only[/red]")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_story(version: Version, story: str, out: Path, sets: list[str]) -> None:
    """One ``regdemo run`` of a story config: its wall and CPU time (the lecture's peak PSS), its runs' timings."""
    config = version.configs / STORIES[story]
    command = [sys.executable, "-m", "regdemo", "run", str(config), "--out", str(out), "--quiet"]
    env = ENV | {"PYTHONPATH": str(version.root)}
    measured = benchkit.measure([*command, *(f"--set={s}" for s in sets)], env, version.root)
    if measured.status not in (0, 3):  # 3: a check does not hold (as a --quick run may not show it)
        raise RuntimeError(f"{version.label}: regdemo run {config.name} exited {measured.status}: {measured.stderr}")
    version.add(f"{story} s", measured.wall)
    version.add(f"{story} cpu", measured.cpu)
    version.add("lecture MiB", *[measured.pss] if story == "lecture" else [])
    found = [json.loads(path.read_text(encoding="utf-8")) for path in out.glob("*/*/metrics.json")]
    version.samples[f"{story} runs"] = [len(found)]
    version.samples[f"{story} epochs"] = [max((n.get("epochs_run") or 0 for n in found), default=0)]
    for timing, epochs in ((n.get("timing", {}), n.get("epochs_run") or 0) for n in found):
        version.add("train ms", *([1000 * timing["train_seconds"] / epochs] if "train_seconds" in timing else []))
        version.add("plot s", *[timing["plot_seconds"]] if "plot_seconds" in timing else [])
        version.add("film s", *[timing["film_seconds"]] if "film_seconds" in timing else [])
    if story == "sweep" and version.root == REPO:  # now: the λ sweep's runs in one pack, in a fresh process
        version.add("pack ms", json_line("-m", "regdemo.train.packtiming", str(config), *sets)["ms_per_run_epoch"])


def json_line(*command: str) -> dict:
    """The last JSON line a Python command (``scripts/…`` or ``-m …``) prints, run in a subprocess from here."""
    done = subprocess.run([sys.executable, *command], cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def machine() -> list[tuple[str, str]]:
    """The machine, system and software measured on, and when."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    cpu = f"{models[0] if models else platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    dists = importlib.metadata.distributions()
    installed = {(d.metadata["Name"] or "").lower().replace("_", "-"): d.version for d in dists}

    def version(*names: str) -> str:
        return next((installed[name] for name in names if name in installed), "—")

    tensorflow = version("tensorflow-cpu", "tensorflow")
    software = f"Python {platform.python_version()}, TensorFlow {tensorflow}, Keras {version('keras')}"
    return [
        ("Machine", f"{cpu}, {psutil.virtual_memory().total / 2**30:.1f} GiB"),
        ("OS", platform.platform()),
        ("Software", f"{software}, NumPy {version('numpy')}, matplotlib {version('matplotlib')}"),
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def ratio(old: list[float] | None, new: list[float] | None) -> str:
    """median(old) ÷ median(new), e.g. ``3.20×``."""
    return f"{statistics.median(old) / statistics.median(new):.2f}×" if old and new else "—"


def tables(versions: list[Version], fit: dict[str, list[dict]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows): each version's min / median per measure with 0.2 ÷ now; the lecture's way."""
    old, now, pair = versions[0].samples, versions[-1].samples, len(versions) > 1
    old.setdefault("pack ms", old.get("train ms", []))  # 0.2 has no packs: its figure is one run's
    columns = ["measure", *(f"{v.label}, min / median" for v in versions)] + (["0.2 ÷ now"] if pair else [])
    ours = [
        [what, *(benchkit.spread(v.samples.get(key, []), spec) for v in versions)]
        + ([ratio(old.get(key), now.get(key))] if pair else [])
        for key, what, spec in ROWS
    ]
    way = []
    for reg, lines in fit.items():
        per_epoch = [line["ms_per_epoch"] for line in lines]
        what = f"model.fit ({reg}), ms per epoch; ÷ now's training per run-epoch"
        way.append([what, benchkit.spread(per_epoch, ".2f"), ratio(per_epoch, now.get("train ms"))])
    runs, epochs = now.get("sweep runs", [0])[0], now.get("sweep epochs", [0])[0]
    sweep = [runs * (x["import_s"] + x["ms_per_epoch"] * epochs / 1000 + x["predict_s"]) for x in fit["none"]]
    what = f"the λ sweep this way ({runs:.0f} runs × (import + fit + predict), extrapolated), s; ÷ now's"
    way.append([what, benchkit.spread(sweep, ".0f"), ratio(sweep, now.get("sweep s"))])
    title = "The lecture's way (scripts/lecture_fit_baseline.py)"
    return [("regdemo", columns, ours), (title, ["measure", "min / median", "÷ now"], way)]


def markdown(results: list[tuple[str, list[str], list[list[str]]]], about: list[tuple[str, str]]) -> str:
    """docs/benchmarks.md: the machine and date, the tables, how they were measured, the other scripts."""
    lines = ["# Benchmarks", "", "> **Generated page**: the output of `python scripts/benchmark.py --markdown`"]
    lines += ["> on the machine and date below; regenerated, never edited by hand.", ""]
    lines += [f"- {key}: {value}" for key, value in about]
    for title, columns, rows in results:
        lines += ["", f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    how = __doc__.split("\n\n", 2)[2]  # the docstring after its usage lines
    return "\n".join([*lines, "", "## How", "", how.strip(), "", OTHER, ""])


def time_report(out: Path) -> None:
    """Make (or finish) the 1,000-run experiment in ``out``, then time and print the end of it."""
    out.mkdir(exist_ok=True)
    (config := out / "bench-report.yaml").write_text(REPORT_CONFIG.replace("SEEDS", str(list(range(1, 101)))))
    command = [sys.executable, "-m", "regdemo", "run", str(config), "--out", str(out), "--workers", "2", "--quiet"]
    subprocess.run(command, check=True, cwd=REPO, env=ENV)
    from regdemo.results import rundir

    run_dirs = rundir.find_runs(out / "bench-report")
    spent = benchkit.time_reporting(out / "bench-report", run_dirs)
    print("\n".join(f"  {key + ':':<14} {value:8.2f}" for key, value in spent.items()))
    total = sum(value for key, value in spent.items() if key != "report_mb")
    print(f"  {len(run_dirs)} runs: {total:.2f} s in all, {100 * total / len(run_dirs):.2f} s per hundred runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="305d4a5", help="git revision of version 0.2 (default 305d4a5)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measure per version (default 2)")
    parser.add_argument("--fit-epochs", type=int, default=100, help="epochs of the lecture's model.fit (default 100)")
    parser.add_argument("--quick", action="store_true", help="a short check: 200 epochs per run, one repeat")
    parser.add_argument("--markdown", action="store_true", help="print docs/benchmarks.md")
    parser.add_argument("--report", action="store_true", help="only the end of a 1,000-run experiment")
    args = parser.parse_args()
    if args.repeats < 1 or args.fit_epochs < 1:
        parser.error("--repeats and --fit-epochs must be >= 1")
    if args.report:
        time_report(REPO / "outputs")
        return 0
    repeats, sets, fit_epochs = (1, ["training.epochs=200"], 20) if args.quick else (args.repeats, [], args.fit_epochs)
    fit: dict[str, list[dict]] = {"none": [], "l2": []}
    fit_script = ("scripts/lecture_fit_baseline.py", "--epochs", str(fit_epochs), "--regularizer")
    with tempfile.TemporaryDirectory(prefix="regdemo-bench-") as tmp:
        old = extract(args.baseline, Path(tmp) / "baseline")
        versions = [Version(f"v0.2 ({args.baseline})", old, old)] if old else []
        versions.append(Version(f"now ({revision()})", REPO, old or REPO))
        for rep, story in ((rep, story) for rep in range(repeats) for story in STORIES):
            for version in list(versions):
                notes.print(f"{rep + 1}/{repeats} {version.label}: regdemo run {STORIES[story]} …")
                try:
                    run_story(version, story, Path(tempfile.mkdtemp(dir=tmp)), sets)
                except RuntimeError as exc:
                    if version is versions[-1]:
                        raise
                    notes.print(f"[red]{exc}\nmeasuring the current code only[/red]")
                    versions.remove(version)
            for reg, lines in fit.items() if story == "sweep" else ():
                notes.print(f"{rep + 1}/{repeats} lecture_fit_baseline.py --regularizer {reg} …")
                lines.append(json_line(*fit_script, reg))
    results = tables(versions, fit)
    for title, columns, rows in results:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*row)
        (notes if args.markdown else Console()).print(table)
    if args.markdown:
        measured = f"{', '.join(v.label for v in versions)}; {repeats} repeat(s), alternating"
        print(markdown(results, [*machine(), ("Measured", measured)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
