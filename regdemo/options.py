"""How ``regdemo run`` runs, as one object: :class:`RunOptions`, built once (by the command line from its
arguments, by :func:`regdemo.run` from its keyword arguments), checked once by :func:`checked`, and passed
whole from the API down to the backends.

What an experiment *is* (its runs, seeds, epochs) is the config's; these are how this invocation trains
it: how many workers, where, what else it writes. No TensorFlow, no Ray imported here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import socket
from dataclasses import dataclass

import regdemo

BACKENDS = ("local", "ray")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class RunOptions:
    """The runtime options of one ``regdemo run`` (each field is the command line's flag of that name)."""

    workers: int = 1
    """Parallel workers: local processes, or the CPUs of a local Ray instance (no more are started than
    there are runs to do)."""
    force: bool = False
    """Retrain and replace runs whose saved config differs."""
    tensorboard: bool = False
    """Also write TensorBoard event files into each run folder (``<run>/tensorboard/``)."""
    progress: bool = True
    """Show the progress display on stderr."""
    backend: str = "local"
    """``local`` (worker processes on this machine) or ``ray`` (Ray tasks)."""
    ray_address: str | None = None
    """With ``backend="ray"``: the cluster to join (None: $RAY_ADDRESS, else a local instance)."""
    wait: bool = False
    """Wait for another process writing the same experiment, instead of refusing."""
    report: bool = False
    """Write report.html at the end."""
    grids: bool | None = None
    """Draw the comparison's grid pages (True), not (False), or up to 36 runs (None; see
    :func:`regdemo.draw.figures.comparison_figures`)."""

    @property
    def remote(self) -> bool:
        """Runs train on a cluster, not on this machine (so this machine's memory does not bound them)."""
        return self.backend == "ray" and bool(self.ray_address or os.environ.get("RAY_ADDRESS"))


class OptionError(ValueError):
    """An option that cannot be used: ``option`` names it as the API spells it (``workers``, ``backend ray``),
    the command line prefixes ``--`` and spells ``_`` as ``-``."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option, self.reason = option, reason

    def as_flag(self) -> str:
        """The command line's line: ``--workers: must be >= 1 (got 0)``."""
        return f"--{self.option.replace('_', '-')}: {self.reason}"


def checked(options: RunOptions) -> RunOptions:
    """``options`` checked, with ``ray_address`` taken from $RAY_ADDRESS when the Ray backend is chosen and
    none is given. Raises :class:`OptionError` for the first option that cannot be used."""
    if not isinstance(options.workers, int) or isinstance(options.workers, bool):
        raise OptionError("workers", f"must be an integer (got {type(options.workers).__name__})")
    if options.workers < 1:
        raise OptionError("workers", f"must be >= 1 (got {options.workers!r})")
    for flag in ("force", "tensorboard", "progress", "wait", "report"):
        if not isinstance(getattr(options, flag), bool):
            raise OptionError(flag, f"must be True or False (got {type(getattr(options, flag)).__name__})")
    if options.grids is not None and not isinstance(options.grids, bool):
        raise OptionError("grids", f"must be True, False or None (got {type(options.grids).__name__})")
    if options.backend not in BACKENDS:
        raise OptionError("backend", f"must be one of {', '.join(BACKENDS)} (got {options.backend!r})")
    if options.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise OptionError("tensorboard", "needs the tensorboard package: pip install 'regdemo[tensorboard]'")
    if options.ray_address is not None and options.backend != "ray":
        raise OptionError("ray_address", "only with --backend ray")
    if options.backend != "ray":
        return options
    if importlib.util.find_spec("ray") is None:
        raise OptionError("backend ray", "needs Ray: pip install 'regdemo[ray]'")
    address = options.ray_address or os.environ.get("RAY_ADDRESS") or None
    if address and (problem := unreachable(address)):
        raise OptionError(f"ray_address {address}", problem)
    return dataclasses.replace(options, ray_address=address)


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at ``host:port`` (None when something does, or when ``address`` is not a
    ``host:port``, e.g. ``auto``). Ray itself retries an unreachable address for minutes."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or "/" in host:
        return None
    try:
        socket.create_connection(("127.0.0.1" if host in LOOPBACK else host, int(port)), timeout).close()
    except OSError as exc:
        return f"cannot connect ({exc.strerror or exc})"
    return None


def backend_note() -> str | None:
    """The one-line note that a user's KERAS_BACKEND was overridden (see :mod:`regdemo`), or None."""
    if regdemo.OVERRIDDEN_BACKEND:
        return f"KERAS_BACKEND={regdemo.OVERRIDDEN_BACKEND} ignored; regdemo trains on TensorFlow"
    return None
