"""What the benchmark scripts share: timing a call, timing a command with its process tree's peak memory,
the end of an experiment (loading, summary, comparison figures, report), and figures as min / median."""

from __future__ import annotations

import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call, and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def spread(values: Sequence[float], spec: str = ".2f") -> str:
    """``min / median`` of ``values`` ('—' without any)."""
    return f"{min(values):{spec}} / {statistics.median(values):{spec}}" if values else "—"


@dataclass(frozen=True)
class Measured:
    """One command: wall and CPU seconds (user + system of its process tree: steadier on a shared machine, where
    wall time includes waiting for a core), the tree's peak PSS and RSS (MiB), exit status, stderr's tail.
    RSS counts shared pages once per process; PSS shares them out, so its sum is what the machine holds."""

    wall: float
    cpu: float
    pss: float
    rss: float
    status: int
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # ended, waited-for children and their descendants
    return usage.ru_utime + usage.ru_stime


def measure(command: Sequence[str], env: Mapping[str, str], cwd: Path, every: float = 0.05) -> Measured:
    """Run ``command`` (stdout discarded), summing its process tree's memory every ``every`` seconds."""
    with tempfile.TemporaryFile() as err:
        started, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=err)
        root, peak = psutil.Process(proc.pid), [0, 0]
        while proc.poll() is None:
            now = [0, 0]
            for process in [root, *root.children(recursive=True)] if root.is_running() else []:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # the process ended while we looked
                now = [now[0] + info.pss, now[1] + info.rss]
            peak = [max(peak[0], now[0]), max(peak[1], now[1])]
            time.sleep(every)
        wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
        err.seek(0)
        tail = err.read().decode(errors="replace").strip()[-500:]
    return Measured(wall, cpu, peak[0] / 2**20, peak[1] / 2**20, proc.returncode, tail)


def time_reporting(exp_dir: Path, run_dirs: Sequence[Path]) -> dict[str, float]:
    """Seconds, in this process, of each step at the end of an experiment: ``rundir.load_runs``, summary.csv,
    the comparison figures (``figures.compare``), ``report.write_report``; and report.html's MB."""
    from regdemo.draw import figures
    from regdemo.report import page
    from regdemo.results import rundir, summary

    spent: dict[str, float] = {}
    spent["load_runs"], runs = timed(lambda: rundir.load_runs(run_dirs))
    spent["summary.csv"], _ = timed(lambda: rundir.write_summary(summary.summary_rows(runs), exp_dir))
    spent["compare"], _ = timed(lambda: figures.compare(run_dirs, exp_dir))
    spent["write_report"], report = timed(lambda: page.write_report(exp_dir))
    return spent | {"report_mb": report.stat().st_size / 1e6}
