"""Command line: argument parsing and exit codes only. ``regdemo run|validate|compare|report``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import regdemo

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regdemo", description=regdemo.__doc__)
    parser.add_argument("--version", action="version", version=f"regdemo {regdemo.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def config_command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("config", type=Path, help="experiment YAML file")
        cmd.add_argument(
            "--set",
            dest="sets",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a field in every run (repeatable), e.g. --set training.epochs=500",
        )
        cmd.add_argument("--smoke", action="store_true", help="shrink for CI: few epochs, coarse grid")
        return cmd

    run = config_command("run", "train every run of an experiment and write its results")
    run.add_argument("--out", type=Path, default=Path("outputs"), help="folder experiments go to (default: outputs)")
    run.add_argument("--force", action="store_true", help="retrain and replace runs whose saved config differs")
    run.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel worker processes (default: all cores)",
    )
    run.add_argument("--dry-run", action="store_true", help="list the runs it would make, and stop")
    run.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files per run")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--wait", action="store_true", help="wait for another run writing the same experiment to end")
    run.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: Ray tasks (pip install 'regdemo[ray]')",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --backend ray: join this cluster (host:port; default $RAY_ADDRESS, else a local instance)",
    )
    config_command("validate", "check a config without training")
    compare_help = "compare saved runs (any experiments): summary.csv and comparison figures, no retraining"
    compare = sub.add_parser("compare", help=compare_help, description=compare_help)
    compare.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders, e.g. outputs/x/*")
    compare.add_argument("--out", type=Path, required=True, help="folder the comparison is written to")
    report_help = "write EXPERIMENT_DIR/report.html: one self-contained page with the summary, figures and runs"
    report = sub.add_parser("report", help=report_help, description=report_help)
    report.add_argument("experiment_dir", type=Path, metavar="EXPERIMENT_DIR", help="e.g. outputs/lecture")
    return parser


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT


def _list_runs(experiment) -> None:
    for cfg in experiment.runs:
        swept = ", ".join(f"{path}={value}" for path, value in cfg.sweep.items())
        print(f"{cfg.name}" + (f"    ({swept})" if swept else ""))
    print(f"{len(experiment.runs)} run(s) in experiment {experiment.name}")


def _run(args: argparse.Namespace, experiment) -> int:
    if args.dry_run:
        _list_runs(experiment)
        return 0
    if args.workers < 1:
        return _fail(f"--workers: must be >= 1 (got {args.workers})")
    if args.tensorboard and importlib.util.find_spec("tensorboard") is None:
        return _fail("--tensorboard: needs the tensorboard package: pip install 'regdemo[tensorboard]'")
    if args.ray_address is not None and args.backend != "ray":
        return _fail("--ray-address: only with --backend ray")
    ray_address = args.ray_address or os.environ.get("RAY_ADDRESS") or None
    if args.backend == "ray":
        if importlib.util.find_spec("ray") is None:
            return _fail("--backend ray: needs Ray: pip install 'regdemo[ray]'")
        from regdemo.raybackend import unreachable

        if ray_address and (problem := unreachable(ray_address)):
            return _fail(f"--ray-address {ray_address}: {problem}")
    if regdemo.OVERRIDDEN_BACKEND:
        print(
            f"regdemo: note: KERAS_BACKEND={regdemo.OVERRIDDEN_BACKEND} ignored; regdemo trains on TensorFlow",
            file=sys.stderr,
        )
    from regdemo.errors import BackendUnavailable, ExperimentLocked, RunConflict
    from regdemo.runner import run_experiment

    try:
        outcome = run_experiment(
            experiment,
            args.out,
            workers=args.workers,
            force=args.force,
            tensorboard=args.tensorboard,
            show_progress=not args.quiet,
            summarize=True,
            backend=args.backend,
            ray_address=ray_address,
            wait=args.wait,
        )
    except (RunConflict, BackendUnavailable, ExperimentLocked) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if outcome.failed:
        print(
            f"{len(outcome.failed)} run(s) failed: {', '.join(outcome.failed)} (see their error.txt)", file=sys.stderr
        )
    print(f"wrote {outcome.folder}")
    return 1 if outcome.failed else 0


def _saved_results(args: argparse.Namespace) -> int:
    """``compare`` and ``report``: read saved run folders only (nothing trains)."""
    from regdemo import report
    from regdemo.errors import RunFolderError

    try:
        if args.command == "compare":
            written = report.compare(args.run_dirs, args.out)
            print(f"wrote {len(written)} files to {args.out}")
        else:
            print(f"wrote {report.write_report(args.experiment_dir)}")
    except RunFolderError as exc:
        return _fail(str(exc))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command in ("compare", "report"):
        return _saved_results(args)
    from regdemo.config import load_experiment
    from regdemo.errors import ConfigError
    from regdemo.resources import preflight

    # Runs that cannot fit in this machine's memory are refused like bad input; not when a cluster trains them.
    remote = getattr(args, "backend", "local") == "ray" and (args.ray_address or os.environ.get("RAY_ADDRESS"))
    try:
        experiment = load_experiment(args.config, args.sets, args.smoke, check=None if remote else preflight())
    except ConfigError as exc:
        return _fail(str(exc))
    if args.command == "validate":
        _list_runs(experiment)
        print(f"{args.config}: ok")
        return 0
    return _run(args, experiment)


if __name__ == "__main__":
    sys.exit(main())
