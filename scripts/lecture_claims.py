"""Check the lecture's claims with numbers: run the lecture-scale configs, then print each claim's verdict.

    python scripts/lecture_claims.py                          # full scale into outputs/ (resumes there)
    python scripts/lecture_claims.py --markdown               # the same table as Markdown (for the README)
    python scripts/lecture_claims.py --scale small --out /tmp/claims   # a ~40 s version (the test's)

The configs (``regdemo.claimruns.CONFIGS``) run through ``regdemo.runner.run_experiment`` into ``--out``
(completed runs with identical configs are reused, so a second call only prints); ``--scale small``
runs shrunken copies named ``<config>_small``. The verdict rules are in ``regdemo.claims``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from regdemo.claimruns import measure
from regdemo.claims import Claim, markdown

REPO = Path(__file__).resolve().parents[1]


def print_table(claims: Sequence[Claim]) -> None:
    table = Table(title="The lecture's claims, checked", show_lines=True)
    for column, width in (("claim", 34), ("measured", 70), ("verdict", 13), ("rule", 34), ("config", 12)):
        table.add_column(column, max_width=width, overflow="fold")
    colours = {True: "green", False: "bold red", None: "yellow"}
    for c in claims:
        table.add_row(c.claim, c.measured, f"[{colours[c.holds]}]{c.verdict}[/]", c.rule, c.source)
    Console(width=None if sys.stdout.isatty() else 170).print(table)  # piped: wide enough, not 80 columns


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="experiments folder (default: outputs)")
    parser.add_argument("--scale", choices=("full", "small"), default="full", help="small: a ~40 s version")
    parser.add_argument("--workers", type=int, default=2, help="parallel worker processes (default: 2)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    claims = measure(args.out, REPO / "configs", args.scale, args.workers, args.quiet)
    seconds = time.perf_counter() - started
    if args.markdown:
        print(markdown(claims))
        print(
            f"\n{args.scale} scale, {os.cpu_count()} cores, {datetime.date.today()}, "
            f"{seconds:.0f} s wall, including any training not already done in {args.out}"
        )
    else:
        print_table(claims)
        print(f"{sum(c.holds is True for c in claims)} of {len(claims)} claims hold; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
