"""results: what a run and an experiment leave on disk, and everything read back from it alone.

- :mod:`~regdemo.results.rundir`: the run-folder and experiment-folder format, every file name, writer and
  reader (the one owner of the format);
- :mod:`~regdemo.results.storage`: files and folders written whole (they appear complete or not at all);
- :mod:`~regdemo.results.lock`: one writer per experiment folder;
- :mod:`~regdemo.results.summary`: summary.csv's rows and its life while an experiment runs;
- :mod:`~regdemo.results.checks`: the config's checks judged from summary rows, seed by seed then over seeds;
- :mod:`~regdemo.results.diff`, :mod:`~regdemo.results.diffview`, :mod:`~regdemo.results.tolerance`: two
  experiments compared (``regdemo diff``) and shown;
- :mod:`~regdemo.results.saved`: an experiment folder read back for Python (:class:`ExperimentResults`).

No TensorFlow, no plotting, no model is ever loaded.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "ExperimentResults": "saved",
    "RunResults": "saved",
    "CheckResult": "checks",
    "judge_experiment": "checks",
    "SummaryTable": "summary",
    "Diff": "diff",
    "Tolerance": "tolerance",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
