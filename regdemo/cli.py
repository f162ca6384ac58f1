"""Command line: argument parsing and exit codes only. ``regdemo run|validate|compare|report|check|diff``, and
``configs`` and ``export`` (:mod:`regdemo.cli_tools`).

Exit statuses: 0 ok, 1 a run failed (diff: a difference beyond tolerance), 2 bad input, 3 a check does
not hold, 130 interrupted. Bad input of any kind is one line on stderr and exit 2: regdemo's own
errors, and every OS or encoding error on a command's inputs and outputs (:func:`main` turns them
into a line naming the path: a folder given as a file, a file where a folder is needed, not UTF-8,
unreadable, not writable, the disk full).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

import regdemo
from regdemo import cli_tools
from regdemo.options import RunOptions
from regdemo.oserrors import command_paths, decode_error, os_error
from regdemo.results.tolerance import ATOL, BOUNDARY_TOL, RTOL, Tolerance
from regdemo.textsafe import one_line

EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 1, 2, 3, 130
# Runs one config may make without --max-runs (regdemo.config.MAX_RUNS; not imported here so that
# --help stays fast).
DEFAULT_MAX_RUNS = 100_000
# report.html is self-contained up to this many runs (regdemo.report.EMBED_LIMIT; not imported either).
DEFAULT_EMBED_LIMIT = 50
GRIDS_HELP = "draw the comparison's grid pages (compare_boundaries*, compare_loss*) even past 36 runs"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regdemo", description=regdemo.__doc__)
    parser.add_argument("--version", action="version", version=f"regdemo {regdemo.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def config_command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument(
            "config", type=Path, help="experiment YAML file, or a shipped config's name (regdemo configs lists them)"
        )
        cmd.add_argument(
            "--set",
            dest="sets",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a field in every run (repeatable), e.g. --set training.epochs=500",
        )
        cmd.add_argument("--smoke", action="store_true", help="shrink for CI: few epochs, coarse grid")
        cmd.add_argument(
            "--max-runs",
            type=int,
            default=DEFAULT_MAX_RUNS,
            metavar="N",
            help=f"refuse a config that makes more than N runs (default: {DEFAULT_MAX_RUNS:,})",
        )
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
        "--no-fail-checks", action="store_true", help="report the config's checks but do not exit 3 when one fails"
    )
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
    run.add_argument("--no-report", action="store_true", help="do not write report.html at the end")
    config_command("validate", "check a config without training")
    compare_help = "compare saved runs (any experiments): summary.csv and comparison figures, no retraining"
    compare = sub.add_parser("compare", help=compare_help, description=compare_help)
    compare.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders, e.g. outputs/x/*")
    compare.add_argument("--out", type=Path, required=True, help="folder the comparison is written to")
    check_help = "judge an experiment's checks again from its saved files (checks.json, or --config's checks)"
    check = sub.add_parser("check", help=check_help, description=check_help)
    check.add_argument("experiment_dir", type=Path, metavar="EXPERIMENT_DIR", help="e.g. outputs/lecture")
    check.add_argument("--config", type=Path, help="take the checks from this config instead of checks.json")
    check.add_argument("--smoke", action="store_true", help="the experiment ran under --smoke: verdicts are 'smoke'")
    check.add_argument("--markdown", action="store_true", help="print a Markdown table (claim, measured, verdict)")
    check.add_argument("--no-fail-checks", action="store_true", help="do not exit 3 when a check does not hold")
    report_help = (
        "write EXPERIMENT_DIR/report.html: checks, summary, an interactive viewer, figures and runs; one "
        "self-contained file, or past --embed-limit runs an index page linking the runs' PNG files"
    )
    report = sub.add_parser("report", help=report_help, description=report_help)
    report.add_argument("experiment_dir", type=Path, metavar="EXPERIMENT_DIR", help="e.g. outputs/lecture")
    form = report.add_mutually_exclusive_group()
    form.add_argument("--embed", dest="embed", action="store_const", const=True, help="one self-contained file")
    form.add_argument("--index", dest="embed", action="store_const", const=False, help="an index page linking files")
    report.add_argument(
        "--embed-limit",
        type=int,
        default=DEFAULT_EMBED_LIMIT,
        metavar="N",
        help=f"self-contained up to N runs (default {DEFAULT_EMBED_LIMIT})",
    )
    for command in (run, compare, report):
        command.add_argument("--grids", action="store_true", help=GRIDS_HELP)
    _diff_parser(sub)
    cli_tools.add_parsers(sub)
    return parser


def _diff_parser(sub) -> None:
    diff_help = (
        "compare two experiments: runs in one side only, settings, metrics beyond tolerance, boundaries; "
        "exit 0 within tolerance, 1 beyond it, 2 bad input"
    )
    diff = sub.add_parser("diff", help=diff_help, description=diff_help)
    diff.add_argument("base", type=Path, metavar="BASE", help="experiment folder, or a summary.csv (a baseline)")
    diff.add_argument("new", type=Path, metavar="NEW", help="experiment folder (or a summary.csv)")
    tol = "a metric is beyond tolerance when |new - base| > atol + rtol*|base| (numpy.isclose)"
    diff.add_argument("--rtol", type=float, default=RTOL, help=f"relative tolerance (default {RTOL:g}); {tol}")
    diff.add_argument("--atol", type=float, default=ATOL, help=f"absolute tolerance (default {ATOL:g})")
    diff.add_argument(
        "--boundary-tol",
        type=float,
        default=BOUNDARY_TOL,
        metavar="F",
        help=f"largest fraction of boundary grid points whose class may flip (default {BOUNDARY_TOL:g})",
    )
    diff.add_argument(
        "--metrics",
        nargs="+",
        action="extend",
        metavar="M",
        help="compare only these summary.csv columns (default: every numeric result column but timings)",
    )
    shown = diff.add_mutually_exclusive_group()
    shown.add_argument(
        "--json",
        action="store_true",
        help="one JSON object; its metrics and boundaries list only the values that differ at all",
    )
    shown.add_argument("--markdown", action="store_true", help="a Markdown summary for a pull-request comment")


def _fail(message: str) -> int:
    print(one_line(message), file=sys.stderr)
    return EXIT_BAD_INPUT


def _list_runs(experiment) -> None:
    for cfg in experiment.runs:
        swept = ", ".join(f"{path}={value}" for path, value in cfg.sweep.items())
        print(one_line(f"{cfg.name}" + (f"    ({swept})" if swept else "")))
    print(f"{len(experiment.runs)} run(s) in experiment {experiment.name}")


def _options(args: argparse.Namespace) -> RunOptions:
    """``regdemo run``'s arguments as the one options object (checked later, by :func:`regdemo.options.checked`)."""
    return RunOptions(
        workers=args.workers,
        force=args.force,
        tensorboard=args.tensorboard,
        progress=not args.quiet,
        backend=args.backend,
        ray_address=args.ray_address,
        wait=args.wait,
        report=not args.no_report,
        grids=args.grids or None,
    )


def _run(args: argparse.Namespace, experiment) -> int:
    if args.dry_run:
        _list_runs(experiment)
        return 0
    from regdemo.options import OptionError, backend_note, checked

    try:
        options = checked(_options(args))
    except OptionError as exc:
        return _fail(exc.as_flag())
    from regdemo.api import check_at_once, run_experiment

    try:
        check_at_once(experiment, options)  # each worker trains in a process of its own
    except OptionError as exc:
        return _fail(exc.as_flag())
    if note := backend_note():
        print(f"regdemo: note: {note}", file=sys.stderr)
    from regdemo.errors import BackendUnavailable, ExperimentLocked, RunConflict, RunFolderError

    try:
        done = run_experiment(experiment, args.out, options)
    except (RunConflict, BackendUnavailable, ExperimentLocked, RunFolderError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    outcome = done.outcome
    if outcome.failed:
        print(
            f"{len(outcome.failed)} run(s) failed: {', '.join(outcome.failed)} (see their error.txt)", file=sys.stderr
        )
    print(f"wrote {outcome.folder}" + (f" (open {done.report})" if done.report else ""))
    status = _verdicts(done.checks, outcome.folder, experiment.smoke, args.no_fail_checks) if experiment.checks else 0
    return EXIT_RUN_FAILED if outcome.failed else status


def _verdicts(results: list, exp_dir: Path, smoke: bool, no_fail: bool, markdown: bool = False) -> int:
    """Print judged checks as a table (or Markdown); 3 if one does not hold (unless ``no_fail``)."""
    from regdemo.results import checks

    if markdown:
        print(checks.as_markdown(results), end="")
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        rows = checks.as_table(results)
        table = Table(*rows[0], title=f"checks: {exp_dir}" + (" (--smoke: not judged)" if smoke else ""))
        for row in rows[1:]:
            table.add_row(*map(Text, row))  # Text: a rule's words are not rich markup (as_table: one line each)
        Console().print(table)
    failing = checks.failing(results)
    if failing and not no_fail:
        print(one_line(f"{len(failing)} check(s) do not hold: {', '.join(failing)}"), file=sys.stderr)
        return EXIT_CHECK_FAILED
    return 0


def _check(args: argparse.Namespace) -> int:
    """``check``: the checks of checks.json (or of --config) judged again on summary.csv; no TensorFlow."""
    from regdemo.config.loading import load_experiment
    from regdemo.errors import ConfigError, RunFolderError
    from regdemo.results import checks, rundir

    exp_dir = args.experiment_dir
    if not (exp_dir / rundir.SUMMARY).is_file():
        return _fail(f"{exp_dir}: not a regdemo experiment folder (no {rundir.SUMMARY})")
    try:
        resolved, smoke = checks.saved_checks(exp_dir)
        if args.config is not None:
            resolved = load_experiment(args.config, smoke=args.smoke).checks
        if not resolved:
            return _fail(f"{exp_dir}: no checks to judge (no {rundir.CHECKS}; give --config)")
        smoke = smoke or args.smoke
        results = checks.judge_experiment(exp_dir, resolved, smoke)
        return _verdicts(results, exp_dir, smoke, args.no_fail_checks, args.markdown)
    except (ConfigError, RunFolderError) as exc:  # a damaged checks.json or summary.csv included
        return _fail(str(exc))


def _saved_results(args: argparse.Namespace) -> int:
    """``compare`` and ``report``: read saved run folders only (nothing trains)."""
    from regdemo.draw import figures
    from regdemo.errors import RunFolderError
    from regdemo.report import page as report

    try:
        if args.command == "compare":
            written = figures.compare(args.run_dirs, args.out, grids=args.grids or None)
            print(f"wrote {len(written)} files to {args.out}")
        else:
            if args.embed_limit < 0:
                return _fail(f"--embed-limit: must be >= 0 (got {args.embed_limit})")
            written = report.write_report(args.experiment_dir, args.embed, args.embed_limit, args.grids or None)
            print(f"wrote {written}")
    except RunFolderError as exc:
        return _fail(str(exc))
    return 0


def _diff(args: argparse.Namespace) -> int:
    """``diff``: 0 within tolerance, 1 beyond it, 2 bad input (from the saved files alone)."""
    from regdemo.errors import RunFolderError
    from regdemo.results import diff, diffview

    for name, value in (("--rtol", args.rtol), ("--atol", args.atol), ("--boundary-tol", args.boundary_tol)):
        if not value >= 0 or value == float("inf"):
            return _fail(f"{name}: must be a finite number >= 0 (got {value})")
    tolerance = Tolerance(args.rtol, args.atol, args.boundary_tol)
    try:
        result = diff.difference(diff.load_side(args.base), diff.load_side(args.new), tolerance, args.metrics)
    except RunFolderError as exc:
        return _fail(str(exc))
    show = diffview.to_json if args.json else diffview.as_markdown if args.markdown else diffview.as_text
    print(show(result))
    return 0 if result.within_tolerance else 1


def _command(args: argparse.Namespace) -> int:
    if args.command in cli_tools.COMMANDS:
        from regdemo.errors import ExportError, RunFolderError, UsageError

        try:
            return cli_tools.command(args)
        except (UsageError, ExportError, RunFolderError) as exc:
            return _fail(str(exc))
    if args.command in ("compare", "report"):
        return _saved_results(args)
    if args.command == "check":
        return _check(args)
    if args.command == "diff":
        return _diff(args)
    if args.max_runs < 1:
        return _fail(f"--max-runs: must be >= 1 (got {args.max_runs})")
    from regdemo.config.loading import load_experiment
    from regdemo.config.overrides import parse_sets
    from regdemo.config.resources import preflight
    from regdemo.errors import ConfigError

    # Runs that cannot fit in this machine's memory are refused like bad input; not when a cluster trains them.
    remote = args.command == "run" and _options(args).remote
    try:
        overrides = parse_sets(args.sets, str(args.config))
        experiment = load_experiment(args.config, overrides, args.smoke, args.max_runs, None if remote else preflight())
    except ConfigError as exc:
        return _fail(str(exc))
    if args.command == "validate":
        _list_runs(experiment)
        print(f"{args.config}: ok")
        return 0
    return _run(args, experiment)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:  # TensorFlow's log level is set by importing regdemo (see regdemo/__init__.py)
        return _command(args)
    except OSError as exc:
        if exc.errno == errno.EPIPE and exc.filename is None:  # `regdemo validate x | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return _fail(os_error(exc, command_paths(args), args.command))
    except UnicodeDecodeError as exc:
        return _fail(decode_error(exc, command_paths(args)))


if __name__ == "__main__":
    sys.exit(main())
