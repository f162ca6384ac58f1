"""regdemo: see and measure what L1/L2 regularization does to a small Keras network.

In Python (a notebook, a script): ``regdemo.run("configs/lecture.yaml")`` trains an experiment as
``regdemo run`` does and ``regdemo.load("outputs/lecture")`` reads a saved one; both return a
:class:`regdemo.results.ExperimentResults` (see :mod:`regdemo.api`).

The package follows the data path, one subpackage a stage, each importing only those before it:
:mod:`regdemo.config` (YAML → validated runs) → :mod:`regdemo.train` (dataset, model, engines, the numbers
measured) → :mod:`regdemo.results` (the run-folder format, summary, checks judged, diff) → :mod:`regdemo.draw`
(figures) → :mod:`regdemo.runs` (one run to its folder, many runs on a backend) → :mod:`regdemo.report`
(report.html) and :mod:`regdemo.export` (a saved experiment into MLflow); at the top the entry points
(:mod:`regdemo.cli` with :mod:`regdemo.cli_tools`, :mod:`regdemo.api`) and the names they all
share (:mod:`regdemo.errors`, :mod:`regdemo.options`, :mod:`regdemo.columns`, :mod:`regdemo.oserrors`).
"""

import os
import sys

__version__ = "0.3.0"
__all__ = ["__version__", "load", "run"]

# The compiled engine is TensorFlow code, so Keras must run on its TensorFlow backend. A user's
# KERAS_BACKEND=jax (say) would otherwise surface as a confusing crash deep in training; it is
# overridden here, before anything imports Keras, and the CLI says so in one line.
OVERRIDDEN_BACKEND = None
if "keras" not in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    OVERRIDDEN_BACKEND = os.environ["KERAS_BACKEND"]
    os.environ["KERAS_BACKEND"] = "tensorflow"
# TensorFlow's C++ log lines are not regdemo's: level 3 also hides the ERROR ones that are only notices, such
# as model.fit's "E0000 ... NodeDef mentions attribute use_unbounded_threadpool" (real failures still surface
# as Python exceptions). Set before anything imports TensorFlow, so that worker processes and a local Ray
# instance inherit it; a value already set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def __getattr__(name: str):
    """``regdemo.run`` and ``regdemo.load``, imported on first use: ``import regdemo`` (and so
    ``regdemo --help``) stays free of TensorFlow, pandas and pydantic."""
    if name in ("run", "load"):
        from regdemo import api

        globals()[name] = value = getattr(api, name)  # found directly from now on
        return value
    raise AttributeError(f"module 'regdemo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "run", "load"])
