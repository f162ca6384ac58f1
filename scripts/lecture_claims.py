"""Check the lecture's claims with numbers: run the story configs, judge their checks, print one table.

    python scripts/lecture_claims.py                          # full scale into outputs/ (resumes there)
    python scripts/lecture_claims.py --markdown               # docs/claims.md's table
    python scripts/lecture_claims.py --scale small --out /tmp/claims   # a ~1 min version (the test's)

The claims are the ``checks:`` of the story configs (regdemo.claims.CONFIGS: lecture, l1_vs_l2, lambda_sweep,
width_sweep, remedies, feature_selection, weight_decay, choose_lambda),
judged by regdemo (each experiment also gets its checks.json; ``regdemo check outputs/<name>`` judges
them again). "L2 is weight decay" is one optimizer step, measured live here and in the tests.
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
from rich.text import Text

from regdemo.claims import measure, measure_weight_decay, weight_decay_row
from regdemo.results.checks import markdown_table, measured_text

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"holds": "green", "does not hold": "bold red", "inconclusive": "yellow", "not measured": "yellow"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="experiments folder (default: outputs)")
    parser.add_argument("--scale", choices=("full", "small"), default="full", help="small: a ~1 min version")
    parser.add_argument("--workers", type=int, default=2, help="parallel worker processes (default: 2)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = measure(args.out, REPO / "configs", args.scale, args.workers, args.quiet)
    rows = [(r.claim, measured_text(r.figures), r.verdict, r.rule, config) for config, r in results]
    rows.append((*weight_decay_row(*measure_weight_decay()), "live"))
    seconds = time.perf_counter() - started
    if args.markdown:
        print(markdown_table(("claim", "measured", "verdict", "rule", "config"), rows))
        print(f"\n{args.scale} scale, {os.cpu_count()} cores, {datetime.date.today()}, {seconds:.0f} s wall")
        return 0
    table = Table(title="The lecture's claims, checked", show_lines=True)
    for column, width in (("claim", 34), ("measured", 60), ("verdict", 13), ("rule", 44), ("config", 12)):
        table.add_column(column, max_width=width, overflow="fold")
    for claim, measured, verdict, rule, config in rows:
        table.add_row(Text(claim), Text(measured), Text(verdict, COLOURS.get(verdict, "")), Text(rule), config)
    Console(width=None if sys.stdout.isatty() else 170).print(table)  # piped: wide enough, not 80 columns
    print(f"{sum(row[2] == 'holds' for row in rows)} of {len(rows)} claims hold; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
