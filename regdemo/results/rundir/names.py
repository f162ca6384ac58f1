"""The names of the files in a run folder and in an experiment folder, and the format version.

Spelled here once; :mod:`regdemo.results.rundir` (this package) writes and reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The version of the run-folder format, stored in metrics.json. 1: the first versioned format (the
# dataset's points in plot_data.npz). Raise it whenever a reader could misread an older folder.
FORMAT = 1

CONFIG = "config.yaml"
METRICS = "metrics.json"
HISTORY = "history.csv"
PLOT_DATA = "plot_data.npz"
MODEL = "model.keras"
ERROR = "error.txt"
TENSORBOARD = "tensorboard"
BOUNDARY_PNG, LOSS_PNG, WEIGHTS_PNG = "boundary.png", "loss.png", "weights.png"
RUN_PLOTS = (BOUNDARY_PNG, LOSS_PNG, WEIGHTS_PNG)
# With ``plots.snapshots``: the training as a film, and the same frames stacked top to bottom in one PNG
# (equal heights, one per entry of plot_data.npz's ``snapshot_epochs``) for report.html's epoch slider.
TRAINING_GIF, TRAINING_FRAMES = "training.gif", "training_frames.png"

SUMMARY = "summary.csv"
# What starts a cell a spreadsheet would take for a formula (OWASP, "CSV Injection"): summary.csv's writer puts
# a quote before such text (regdemo.results.rundir.write.csv_cell), its reader takes it off.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REPORT = "report.html"
CHECKS = "checks.json"
SELECTION = "selection.json"  # a config's select: section, chosen after the runs (regdemo.results.selection)
COMPARE_WEIGHTS = "compare_weights.png"
LOCK = ".regdemo.lock"  # hidden, never a run folder; there only while a run holds it (or after a kill)
# Comparison files that come in a varying number (pages, one per swept field; no grid pages at all past
# 36 runs unless asked for): what a later, smaller comparison must remove.
_PAGED = ("compare_boundaries*.png", "compare_loss*.png", "sweep_*.png", "path_*.png")
FIGURE_PATTERNS = ("compare_*.png", "sweep_*.png", "path_*.png")  # every comparison figure of an experiment folder

# A run's status: completed and diverged runs are results (resume keeps them); failed runs are retried.
COMPLETE = ("completed", "diverged")


# ---------------------------------------------------------------- names


def page_names(stem: str, count: int) -> list[str]:
    """``stem.png``, ``stem_2.png``, … for ``count`` pages."""
    return [f"{stem}.png" if k == 1 else f"{stem}_{k}.png" for k in range(1, count + 1)]


def sweep_file(field: str) -> str:
    """``sweep_<field>.png``, with anything but letters, digits, '.', '_' and '-' replaced by '_'."""
    return f"sweep_{re.sub(r'[^A-Za-z0-9._-]', '_', field)}.png"


def path_file(field: str) -> str:
    """``path_<field>.png``, the regularization path along a swept field (characters as :func:`sweep_file`)."""
    return f"path_{re.sub(r'[^A-Za-z0-9._-]', '_', field)}.png"


def comparison_figures(folder: Path, order: Callable[[Path], Any]) -> list[Path]:
    """The comparison figures in an experiment ``folder``: compare_*.png, then sweep_*.png, each in ``order``."""
    return [path for pattern in FIGURE_PATTERNS for path in sorted(folder.glob(pattern), key=order)]


def stale_comparison_files(folder: Path, keep: Sequence[str]) -> list[Path]:
    """Comparison files in ``folder`` from an earlier, larger comparison (extra pages, old sweep plots)."""
    return [path for pattern in _PAGED for path in folder.glob(pattern) if path.name not in keep]
