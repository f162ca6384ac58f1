"""Run folders made by hand for tests: one copied from a real run with its swept values and numbers
patched, a failed one as the runner writes it, and the tiny experiment's CLI settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from regdemo.results import rundir

SMALL = ["--set", "training.epochs=5", "--set", "plots.boundary.resolution=20"]
ERROR = 'ValueError: bad <b>value</b> & "quotes"'


def set_field(data: dict, dotted: str, value: object) -> None:
    """Set ``data``'s field at the dotted path ``dotted`` (its parents exist) to ``value``."""
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    data[last] = value


def fake_run(source: Path, dest: Path, sweep: dict | None = None, final: dict | None = None) -> Path:
    """A run folder copied from a real one, renamed to ``dest.name``, its config and metrics.json
    patched to the swept values ``sweep`` (dotted path → value) and the ``final`` numbers given."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("model.keras"))
    sweep = sweep or {}
    config = yaml.safe_load((dest / "config.yaml").read_text())
    for path, value in sweep.items():
        set_field(config, path, value)
    config |= {"name": dest.name, "experiment": dest.parent.name, "variant": dest.parent.name, "sweep": sweep}
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    metrics = json.loads((dest / "metrics.json").read_text())
    metrics |= {"run": dest.name, "variant": dest.parent.name, "sweep": sweep}
    metrics["final"] |= final or {}
    (dest / "metrics.json").write_text(json.dumps(metrics))
    return dest


def failed_run(source: Path, dest: Path, error: str = ERROR) -> Path:
    """A failed run folder as the runner writes it: config.yaml, error.txt, metrics.json (status failed)."""
    dest.mkdir(parents=True)
    config = yaml.safe_load((source / "config.yaml").read_text()) | {"name": dest.name, "variant": dest.name}
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (dest / "error.txt").write_text(f"Traceback (most recent call last):\n{error}\n")
    failed = {
        "format": rundir.FORMAT,
        "run": dest.name,
        "status": "failed",
        "error": error,
        "variant": dest.name,
        "sweep": {},
    }
    (dest / "metrics.json").write_text(json.dumps(failed))
    return dest
