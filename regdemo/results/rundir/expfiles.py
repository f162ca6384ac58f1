"""Experiment-level files read back (summary.csv, checks.json) and what ``regdemo diff`` reads of a run
without loading it (see :mod:`regdemo.results.rundir`); every read through :mod:`regdemo.results.rundir.safe`."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from regdemo.errors import RunFolderError
from regdemo.results.rundir import safe, shapes
from regdemo.results.rundir.names import CHECKS, FORMAT, FORMULA_START, SUMMARY
from regdemo.textsafe import excerpt

# plot_data.npz's boundary grid: the arrays a pixel-free comparison of two boundaries reads.
GRID_KEYS = ("grid_x", "grid_y", "grid_prob")


# The writer's quote before a cell a spreadsheet would take for a formula (rundir.write.csv_cell).
_QUOTED = tuple(f"'{start}" for start in FORMULA_START)


def run_name(cell: str, where: str) -> str:
    """A summary.csv ``run`` cell as the run's name, to be joined to a folder: the writer's formula quote
    taken off (``'-x`` is the run ``-x``), then held to the config's rule for names (:data:`SAFE_NAME`)."""
    return safe.check_name(cell[1:] if cell.startswith(_QUOTED) else cell, where)


def read_summary(path: Path, names: bool = False) -> list[dict[str, str]]:
    """summary.csv (or a copy of one under any name; or the experiment folder holding it) → one
    ``{column: cell text}`` per row, in file order.

    Cells stay text as written ('' for an empty cell: a failed run's metrics, a diverged run's non-finite
    numbers); each row's keys are the header's columns, in its order. With ``names`` (the rows' runs are
    joined to folders) each ``run`` cell is the run's name, checked by :func:`run_name`. Raises
    :class:`RunFolderError` (naming the file, and the line where one is at fault) when it cannot be read, a
    row's cells do not match the header, or (``names``) a run cell is no name.
    """
    path = path / SUMMARY if path.is_dir() else path
    rows: list[dict[str, str]] = []
    text = safe.read_utf8(path.parent, path.name, safe.MAX_CSV_BYTES)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, [])
        for cells in reader:
            if not cells:  # a blank line, as csv.DictReader skips it
                continue
            if len(cells) != len(header):
                where = f"{path}:{reader.line_num}"
                raise RunFolderError(f"{where}: {len(cells)} cells, the header has {len(header)}")
            row = dict(zip(header, cells, strict=True))
            if names and "run" in row:
                row["run"] = run_name(row["run"], f"{path}:{reader.line_num}: run")
            rows.append(row)
    except csv.Error as exc:  # a field over csv's 131,072 characters included
        raise RunFolderError(f"{path}: unreadable: {excerpt(str(exc), 200)}") from None
    return rows


def grid_checksums(saved: np.lib.npyio.NpzFile) -> dict[str, tuple[int, int]]:
    """The boundary grid arrays of an opened plot_data.npz as ``{key: (CRC-32, size in bytes)}``.

    Read from the zip directory alone (nothing is decompressed): two equal entries hold equal arrays,
    up to a CRC-32 collision. Keys the file lacks are left out.
    """
    infos = {info.filename: info for info in saved.zip.infolist()}
    return {key: (infos[f"{key}.npy"].CRC, infos[f"{key}.npy"].file_size) for key in GRID_KEYS if f"{key}.npy" in infos}


def summary_order(exp_dir: Path) -> list[str]:
    """The run names in summary.csv's order ([] without one)."""
    return [row.get("run", "") for row in read_summary(exp_dir, names=True)] if (exp_dir / SUMMARY).is_file() else []


def read_checks(exp_dir: Path) -> dict[str, Any]:
    """checks.json as written by :func:`write_checks` ({} when there is none)."""
    path = exp_dir / CHECKS
    if not os.path.lexists(path):
        return {}
    data = safe.read_json(exp_dir, CHECKS)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunFolderError(f"{path}: not a checks file of format {FORMAT}: rerun its experiment")
    shapes.check_checks(data, path)
    return data
