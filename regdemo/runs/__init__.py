"""runs: the runs of an experiment executed: each to its folder, many on a backend, resumable.

- :mod:`~regdemo.runs.one_run`: one run trained, measured, drawn and written whole (:func:`execute_run`);
- :mod:`~regdemo.runs.runner`: the plan against what is on disk (resume), the lock, a backend, the progress
  and summary.csv as runs finish (:func:`execute`);
- :mod:`~regdemo.runs.progress`: the progress display, the same for every backend;
- :mod:`~regdemo.runs.backends`: what trains the runs (local worker processes, Ray tasks) behind one
  interface.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "execute": "runner",
    "Outcome": "runner",
    "execute_run": "one_run",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
