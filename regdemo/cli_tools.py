"""The command line's commands that hand regdemo's files to the tools around it: ``regdemo configs`` (the shipped
story configs, listed or copied out to edit) and ``regdemo export mlflow`` (a saved experiment into MLflow).
Argument parsing and printing only, as in :mod:`regdemo.cli`, which adds these parsers and calls :func:`command`;
a failure is an exception of :mod:`regdemo.errors`, which :mod:`regdemo.cli` prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from regdemo.errors import UsageError

COMMANDS = ("configs", "export")


def add_parsers(sub) -> None:
    """``configs`` and ``export`` on the ``regdemo`` parser's subcommands."""
    configs_help = "list the story configs shipped with regdemo, or print one (or copy it with --to) to edit"
    configs = sub.add_parser("configs", help=configs_help, description=configs_help)
    configs.add_argument("name", nargs="?", metavar="NAME", help="a shipped config, e.g. lecture")
    configs.add_argument(
        "--to", type=Path, metavar="PATH", help="write it to this file (or into this folder); never overwrites"
    )
    export_help = "hand a saved experiment to another tool (reads the experiment folder only)"
    export = sub.add_parser("export", help=export_help, description=export_help)
    targets = export.add_subparsers(dest="target", required=True)
    mlflow_help = "each run of an experiment as an MLflow run: config as params, history as metrics, files as artifacts"
    mlflow = targets.add_parser("mlflow", help=mlflow_help, description=mlflow_help)
    mlflow.add_argument("experiment_dir", type=Path, metavar="EXPERIMENT_DIR", help="e.g. outputs/lecture")
    mlflow.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: sqlite:///<EXPERIMENT_DIR>.mlflow.db, a SQLite file beside the folder)",
    )
    mlflow.add_argument("--experiment", metavar="NAME", help="MLflow experiment name (default: the experiment's)")


def command(args: argparse.Namespace) -> int:
    """Run ``configs`` or ``export``; the exit status (0). Raises :class:`UsageError`, and for ``export``
    :class:`regdemo.errors.ExportError` or :class:`regdemo.errors.RunFolderError`."""
    return _configs(args) if args.command == "configs" else _export(args)


def _configs(args: argparse.Namespace) -> int:
    from regdemo.config import shipped

    if args.name is None:
        if args.to is not None:
            raise UsageError("--to: give the NAME of the config to copy (regdemo configs lists them)")
        for name in shipped.names():
            print(f"{name:<16} {shipped.description(name)}")
        return 0
    item = shipped.shipped(args.name)
    if item is None:
        raise UsageError(f"{args.name}: no shipped config of that name (shipped: {', '.join(shipped.names())})")
    text = item.read_text(encoding="utf-8")
    if args.to is None:
        sys.stdout.write(text)
        return 0
    target = args.to / f"{args.name.removesuffix(shipped.SUFFIX)}{shipped.SUFFIX}" if args.to.is_dir() else args.to
    try:
        with target.open("x", encoding="utf-8") as f:  # "x": an existing file is never overwritten
            try:
                f.write(text)
            except OSError:  # a full disk: no half config left behind (main turns the error into its line)
                target.unlink()
                raise
    except FileExistsError:
        raise UsageError(f"{target}: already exists; not overwritten (give --to another path)") from None
    print(f"wrote {target}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from regdemo.export.mlflow import export_experiment

    done = export_experiment(args.experiment_dir, args.tracking_uri, args.experiment)
    kept = f"; {len(done.kept)} already there" if done.kept else ""
    print(f"exported {len(done.added)} run(s) to MLflow experiment {done.experiment!r} at {done.tracking_uri}{kept}")
    if done.tracking_uri.startswith("sqlite:"):
        print(f"open it with: mlflow ui --backend-store-uri {done.tracking_uri}")
    return 0
