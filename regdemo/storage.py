"""Files and run folders on disk, written whole: they appear complete or not at all.

A run folder is built under a hidden staging name and renamed into place (:func:`write_whole`); a
single file is written to a hidden temporary name and renamed (:func:`atomic_write`). A process
killed half-way leaves only hidden names, which :func:`clean_leftovers` knows and removes. No
TensorFlow here: a driver that only writes what workers return (the Ray backend) stays light.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import yaml

from regdemo.config import RunConfig

# The hidden names a kill can leave behind, as globs beside the folder or file being written.
_STAGING, _REPLACED, _TEMPORARY = ".*.partial-*", ".*.old-*", ".*.tmp.*"


def _finite(value: object) -> object:
    """JSON has no NaN/Infinity: diverged numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_config(cfg: RunConfig, run_dir: Path) -> None:
    """config.yaml: the fully resolved run config (what resume compares against)."""
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def write_metrics(numbers: dict, run_dir: Path) -> None:
    """metrics.json, with non-finite numbers as null (JSON has no NaN)."""
    text = json.dumps(_finite(numbers), indent=2, allow_nan=False)
    (run_dir / "metrics.json").write_text(text + "\n", encoding="utf-8")


def write_failed(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """A failed run's folder: its config, the traceback in error.txt, and metrics.json saying so."""
    run_dir.mkdir(parents=True)
    write_config(cfg, run_dir)
    text = "".join(traceback.format_exception(error))
    (run_dir / "error.txt").write_text(text, encoding="utf-8")
    message = f"{type(error).__name__}: {error}".strip()
    numbers = {"run": cfg.name, "status": "failed", "error": message, "variant": cfg.variant, "sweep": cfg.sweep}
    write_metrics(numbers, run_dir)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing what was there; a kill in between leaves only hidden folders."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)


def write_whole(run_dir: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` build the folder under a hidden staging name, then rename it into ``run_dir``."""
    staging = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_into_place(staging, run_dir)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path`` (same suffix), then rename it into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def clean_leftovers(folder: Path) -> None:
    """Remove what a process killed while writing into ``folder`` left: staging and replaced run
    folders, and temporary files."""
    for leftover in [*folder.glob(_STAGING), *folder.glob(_REPLACED)]:
        shutil.rmtree(leftover, ignore_errors=True)
    for temporary in folder.glob(_TEMPORARY):
        temporary.unlink(missing_ok=True)


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"unsafe path in a run's files: {name!r}")
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def write_run_files(files: dict[str, bytes], run_dir: Path) -> None:
    """Write a run folder given as ``{relative POSIX path: bytes}`` (as
    :func:`regdemo.experiment.run_to_files` returns it) into ``run_dir`` whole."""
    write_whole(run_dir, lambda staging: _unpack(files, staging))


def write_failed_whole(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """:func:`write_failed`, but whole: staged under a hidden name, then renamed into ``run_dir``."""
    write_whole(run_dir, lambda staging: write_failed(cfg, staging, error))
