"""When two numbers count as the same: numpy.isclose's tolerance, with empty cells and NaN made explicit.

Pure and import-light (the command line reads the defaults for its help).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Defaults of --rtol and --atol: a rerun of the same config on the same machine is bit for bit the same,
# so anything beyond float noise in the printed digits is a change. Loosen them across machines
# (oneDNN may differ in the last digits) or TensorFlow versions.
RTOL = 1e-6
ATOL = 1e-9
# Default of --boundary-tol: the largest fraction of grid points whose class may flip.
BOUNDARY_TOL = 0.0


@dataclass(frozen=True)
class Tolerance:
    """numpy.isclose's: a value is beyond when |new − base| > atol + rtol·|base|; ``boundary`` is the
    largest fraction of grid points whose class may flip."""

    rtol: float = RTOL
    atol: float = ATOL
    boundary: float = BOUNDARY_TOL


def _both_nan(a: float, b: float) -> bool:
    return math.isnan(a) and math.isnan(b)


def beyond(base: float | None, new: float | None, tol: Tolerance) -> bool:
    """Whether ``new`` is beyond tolerance of ``base``: NaN equals NaN, infinities only themselves, and a
    number against an empty cell (None) is always beyond."""
    if base is None or new is None:
        return (base is None) != (new is None)
    if math.isnan(base) or math.isnan(new):
        return not _both_nan(base, new)
    if math.isinf(base) or math.isinf(new):
        return base != new
    return abs(new - base) > tol.atol + tol.rtol * abs(base)


def differs(base: float | None, new: float | None) -> bool:
    """Whether two cells hold different values at all (NaN equals NaN, empty equals empty)."""
    if base is None or new is None:
        return (base is None) != (new is None)
    return base != new and not _both_nan(base, new)


def delta(base: float | None, new: float | None) -> float | None:
    """new − base, or None where either is empty or the difference is not a finite number."""
    if base is None or new is None or not math.isfinite(new - base):
        return None
    return new - base
