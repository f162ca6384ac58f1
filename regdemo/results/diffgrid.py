"""How much two runs' decision boundaries disagree, for ``regdemo diff``: from plot_data.npz's grid arrays
alone (read through :mod:`regdemo.results.rundir`, their headers checked against each run's config), told
equal by their zip checksums without decompressing. A boundary that cannot be compared (a grid missing,
grids of different shapes) is said so, never skipped (:class:`NotComparable`)."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regdemo.errors import RunFolderError
from regdemo.results import rundir
from regdemo.results.tolerance import Tolerance
from regdemo.textsafe import excerpt


class NotComparable(Exception):
    """Two runs' boundaries that cannot be compared; the message says why."""


@dataclass(frozen=True)
class BoundaryChange:
    """``disagreement``: the fraction of grid points whose class flipped; None when the grids' box
    differs (not comparable)."""

    run: str
    disagreement: float | None
    beyond: bool


def flipped_fraction(base_prob: np.ndarray, new_prob: np.ndarray) -> float:
    """The fraction of grid points whose predicted class (p > 0.5; NaN counts as class 0) differs.

    Both of shape (resolution, resolution), over the same box.
    """
    return float(np.mean((base_prob > 0.5) != (new_prob > 0.5)))


def unreadable(run_dir: Path, name: str, exc: Exception) -> RunFolderError:
    """One line naming a run folder's file that could not be read."""
    reason = excerpt(" ".join(str(exc).split()), 200) or type(exc).__name__
    return RunFolderError(f"{run_dir}: unreadable {name}: {reason}")


def _open_grid(files: contextlib.ExitStack, run_dir: Path, side: str) -> np.lib.npyio.NpzFile:
    """``run_dir``'s plot_data.npz opened into ``files``, its headers checked."""
    if not os.path.lexists(run_dir / rundir.PLOT_DATA):
        raise NotComparable(f"no {rundir.PLOT_DATA} in {side}")
    try:
        return files.enter_context(rundir.open_plot_data(run_dir))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise unreadable(run_dir, rundir.PLOT_DATA, exc) from None


def _array(saved: np.lib.npyio.NpzFile, key: str, run_dir: Path) -> np.ndarray:
    try:
        return saved[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise unreadable(run_dir, rundir.PLOT_DATA, exc) from None


def boundary_disagreement(base_dir: Path, new_dir: Path) -> float | None:
    """The fraction of grid points whose class differs between two run folders' plot_data.npz grids;
    None when the grids are over different boxes. Raises :class:`NotComparable` when either has no grid
    or the grids' shapes differ, :class:`RunFolderError` naming a damaged file.

    Equal grid arrays are told by their zip checksums, without decompressing: an identical boundary
    costs a directory read, a changed one the two grid_prob arrays (and grid_x/grid_y only when their
    checksums differ).
    """
    with contextlib.ExitStack() as files:
        b, n = _open_grid(files, base_dir, "base"), _open_grid(files, new_dir, "new")
        b_sums, n_sums = rundir.grid_checksums(b), rundir.grid_checksums(n)
        for side, sums in (("base", b_sums), ("new", n_sums)):
            if len(sums) < len(rundir.GRID_KEYS):
                raise NotComparable(f"{rundir.PLOT_DATA} in {side} has no boundary grid")
        for axis in ("grid_x", "grid_y"):
            if b_sums[axis] != n_sums[axis]:
                b_axis, n_axis = _array(b, axis, base_dir), _array(n, axis, new_dir)
                if b_axis.shape != n_axis.shape:
                    raise NotComparable(f"grids of different shapes ({b_axis.shape} and {n_axis.shape})")
                if not np.array_equal(b_axis, n_axis):
                    return None
        if b_sums["grid_prob"] == n_sums["grid_prob"]:
            return 0.0
        b_prob, n_prob = _array(b, "grid_prob", base_dir), _array(n, "grid_prob", new_dir)
        if b_prob.shape != n_prob.shape:
            raise NotComparable(f"grids of different shapes ({b_prob.shape} and {n_prob.shape})")
        return flipped_fraction(b_prob, n_prob)


def boundary_changes(
    pairs: Mapping[str, tuple[Path, Path]], tol: Tolerance
) -> tuple[list[BoundaryChange], dict[str, str], int]:
    """Of the runs given with their two folders: (those whose boundaries disagree at all or are over
    different boxes, ``{run: why}`` for those that could not be compared, how many were compared)."""
    changes, not_compared, compared = [], {}, 0
    for run, (b_dir, n_dir) in pairs.items():
        try:
            share = boundary_disagreement(b_dir, n_dir)
        except NotComparable as exc:
            not_compared[run] = str(exc)
            continue
        compared += 1
        if share is None or share != 0.0:
            changes.append(BoundaryChange(run, share, share is not None and share > tol.boundary))
    return changes, not_compared, compared
