"""selection.json, an experiment's choice of a swept value (a config's ``select:`` section): its one writer and
its one reader, with a format check (see :mod:`regdemo.results.rundir`; the numbers are
:mod:`regdemo.results.selection`'s)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regdemo.errors import RunFolderError
from regdemo.results import storage
from regdemo.results.rundir.names import FORMAT, SELECTION
from regdemo.results.rundir.safe import read_json
from regdemo.results.rundir.write import _finite  # the package's own JSON rule: non-finite as null


def write_selection(selection: Mapping[str, Any], exp_dir: Path) -> Path:
    """selection.json (atomically): ``{"format", "field", "metric", "table", "chosen", "rules", "spec"}`` as
    :func:`regdemo.results.selection.choose` makes it, non-finite numbers as null."""
    text = json.dumps(_finite({"format": FORMAT, **selection}), indent=1, allow_nan=False)
    return storage.atomic_write(exp_dir / SELECTION, text + "\n")


def drop_selection(exp_dir: Path) -> None:
    """Remove a selection.json left by an earlier config that had a select: section."""
    (exp_dir / SELECTION).unlink(missing_ok=True)


def _number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def read_selection(exp_dir: Path) -> dict[str, Any]:
    """selection.json as :func:`write_selection` wrote it ({} when there is none), its shape checked: the
    format, a field, a metric, a table of rows with their values, and the chosen values (numbers or null)."""
    path = exp_dir / SELECTION
    if not os.path.lexists(path):
        return {}
    data = read_json(exp_dir, SELECTION)  # a regular file, bounded in size and depth
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunFolderError(f"{path}: not a selection file of format {FORMAT}: rerun its experiment")
    chosen, table = data.get("chosen"), data.get("table")
    shaped = (
        isinstance(data.get("field"), str)
        and isinstance(data.get("metric"), str)
        and isinstance(table, list)
        and all(isinstance(row, dict) and _number_or_null(row.get("value")) for row in table)
        and isinstance(chosen, dict)
        and all(isinstance(key, str) and _number_or_null(value) for key, value in chosen.items())
    )
    if not shaped:
        raise RunFolderError(f"{path}: not a selection file: it needs a field, a metric, a table and chosen values")
    return data
