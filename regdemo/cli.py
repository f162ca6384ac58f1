"""Command line: argument parsing and exit codes only. ``regdemo run|validate|compare|report``.

Bad input of any kind is one line on stderr and exit 2 (:data:`EXIT_BAD_INPUT`): regdemo's own
errors, and every OS or encoding error on a command's inputs and outputs (:func:`main` turns them
into a line naming the path: a folder given as a file, a file where a folder is needed, not UTF-8,
unreadable, not writable, the disk full).
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import regdemo

EXIT_BAD_INPUT = 2
# Runs one config may make without --max-runs (regdemo.config.MAX_RUNS; not imported here so that
# --help stays fast).
DEFAULT_MAX_RUNS = 100_000


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


def _one_line(message: str) -> str:
    """``message`` safe to print as one line: control characters (a newline or a terminal escape in a
    key of a hostile config) shown escaped, text that cannot be encoded (lone surrogates) too."""
    shown = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], message)
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def _fail(message: str) -> int:
    print(_one_line(message), file=sys.stderr)
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
    from regdemo.errors import BackendUnavailable, RunConflict, RunFolderError
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
        )
    except (RunConflict, BackendUnavailable, RunFolderError) as exc:
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


# ---------------------------------------------------------------- OS and encoding errors as one line

# Wordings that say more than strerror; the rest use strerror ("Permission denied", ...).
_REASONS = {errno.ENOSPC: "disk full (no space left on device)", errno.EISDIR: "is a folder, where a file is needed"}
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # EDQUOT: not on every platform
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "disk quota exceeded"
_TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".txt", ".html")


def _paths(args: argparse.Namespace) -> list[Path]:
    """The command's own inputs and outputs, read off its arguments (so a new command needs nothing
    here): ``--out`` first, as the path named when an OS error names none (a write that fails on a
    full disk does not), then the others; all are searched for a file that is not UTF-8."""
    found: list[Path] = [args.out] if isinstance(getattr(args, "out", None), Path) else []
    for value in vars(args).values():
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, Path) and path not in found:
                found.append(path)
    return found or [Path.cwd()]


def _file_in_the_way(path: Path) -> Path | None:
    """``path`` or the nearest of its parents that exists as something other than a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def _os_error(exc: OSError, args: argparse.Namespace) -> str:
    """An OS error as one line naming its path."""
    named = exc.filename
    path = Path(os.fsdecode(named) if isinstance(named, str | bytes) else str(named)) if named else _paths(args)[0]
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and (blocker := _file_in_the_way(path)) is not None:
        return f"{blocker}: is a file, where a folder is needed"
    reason = _REASONS.get(exc.errno, exc.strerror or str(exc))
    if exc.errno in _DISK_FULL and args.command == "run":
        reason += "; the run being written was dropped, completed runs are kept: free space and rerun to finish"
    return f"{path}: {reason}"


def _text_files(root: Path, depth: int = 3) -> Iterator[Path]:
    """The text files a command may have read: ``root`` itself, or those up to ``depth`` folders down."""
    if root.is_file():
        yield root
        return
    if depth and root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.is_dir():
                yield from _text_files(entry, depth - 1)
            elif entry.suffix in _TEXT_SUFFIXES:
                yield entry


def _decode_error(exc: UnicodeDecodeError, args: argparse.Namespace) -> str:
    """An encoding error as one line naming the file: Python's error does not say which file it was,
    so the command's inputs are searched for the first one that is not UTF-8."""
    for root in _paths(args):
        for path in _text_files(root):
            try:
                raw = path.read_bytes()
                raw.decode("utf-8")
            except UnicodeDecodeError as found:
                line = raw.count(b"\n", 0, found.start) + 1
                return f"{path}:{line}: not UTF-8 text (byte 0x{raw[found.start]:02x})"
            except OSError:
                continue
    return f"{_paths(args)[0]}: not UTF-8 text ({exc.reason})"


def _command(args: argparse.Namespace) -> int:
    if args.command in ("compare", "report"):
        return _saved_results(args)
    if args.max_runs < 1:
        return _fail(f"--max-runs: must be >= 1 (got {args.max_runs})")
    from regdemo.config import load_experiment
    from regdemo.errors import ConfigError

    try:
        experiment = load_experiment(args.config, args.sets, args.smoke, args.max_runs)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.command == "validate":
        _list_runs(experiment)
        print(f"{args.config}: ok")
        return 0
    return _run(args, experiment)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # TensorFlow's C++ log lines are not regdemo's: level 3 also hides the ERROR ones that are only
    # notices, such as model.fit's "E0000 ... NodeDef mentions attribute use_unbounded_threadpool"
    # (real failures still surface as Python exceptions). Set before any process imports TensorFlow:
    # worker processes and a local Ray instance inherit it. A value already set is kept.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return _command(args)
    except OSError as exc:
        if exc.errno == errno.EPIPE and exc.filename is None:  # `regdemo validate x | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return _fail(_os_error(exc, args))
    except UnicodeDecodeError as exc:
        return _fail(_decode_error(exc, args))


if __name__ == "__main__":
    sys.exit(main())
