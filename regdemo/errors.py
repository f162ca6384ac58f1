"""Every exception regdemo raises for the command line to turn into one line and an exit status.

Each message is one line naming the file or folder at fault; the command line prints it and exits 2.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A bad config, reported as one line: ``file:LINE: field.path: reason (got VALUE)`` (exit 2)."""


class RunFolderError(Exception):
    """A folder given as a run (or experiment) is not one, or is of an unknown format (exit 2)."""


class RunConflict(Exception):
    """A run folder holds results of a different config and ``--force`` was not given (exit 2)."""


class BackendUnavailable(Exception):
    """The chosen backend cannot start or connect (e.g. no Ray cluster lets us join) (exit 2)."""


class ExperimentLocked(Exception):
    """Another process holds the experiment folder's lock (:func:`regdemo.results.lock.lock_experiment`; exit 2)."""


class ExportError(Exception):
    """An export cannot reach or write its target (``regdemo export``: no mlflow installed, a tracking URI that
    cannot be used) (exit 2)."""


class UsageError(Exception):
    """An argument a command cannot use: a name that is no shipped config, a file it will not overwrite (exit 2)."""
