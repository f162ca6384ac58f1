"""Command line: argument parsing only. ``regdemo run|validate CONFIG``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
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
    run.add_argument("--force", action="store_true", help="replace an experiment folder that already holds results")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    config_command("validate", "check a config without training")
    return parser


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what TensorFlow's C++ start-up writes straight to fd 2 (absl and oneDNN notices).

    Python's own errors are not lost: if the block raises, the captured text is replayed.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from regdemo.config import ConfigError, load_experiment

    try:
        experiment = load_experiment(args.config, args.sets, args.smoke)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.command == "validate":
        print(f"{args.config}: ok, {len(experiment.runs)} run(s): {', '.join(r.name for r in experiment.runs)}")
        return 0
    if regdemo.OVERRIDDEN_BACKEND:
        print(
            f"regdemo: note: KERAS_BACKEND={regdemo.OVERRIDDEN_BACKEND} ignored; regdemo trains on TensorFlow",
            file=sys.stderr,
        )
    with quiet_native_stderr():
        from regdemo.experiment import ExperimentExists, configure_tensorflow, run_experiment

        configure_tensorflow()

    try:
        folder = run_experiment(experiment, args.out, force=args.force, show_progress=not args.quiet)
    except ExperimentExists as exc:
        return _fail(str(exc))
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
