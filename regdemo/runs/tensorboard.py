"""TensorBoard files (``--tensorboard``): each run's event files, and the experiment's HParams summary.

A run's ``tensorboard/`` folder is laid out as Keras' TensorBoard callback lays it out (``train/``,
``validation/``: per-epoch scalars, and kernel histograms at the kept snapshots), and is one HParams session of
its own (the folder itself: the run's hparams at session start, its summary numbers as scalars, session end),
as TensorBoard's HParams Keras callback writes one. The experiment folder's ``tensorboard/`` holds the HParams
experiment summary: the fields that vary between the runs (``variant`` and dotted config paths, each with its
domain) and the summary's result columns as metrics, so ``tensorboard --logdir outputs/<name>`` shows the sweep
in the HParams dashboard (table, parallel coordinates, scatter plots).

The run's files are written with ``tf.summary`` in the worker that trained it; the experiment summary, at the
end of the experiment (after summary.csv), with TensorBoard's own record writer and protos, no TensorFlow.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from regdemo.config.schema import RunConfig, dotted_fields
from regdemo.results import rundir, storage
from regdemo.results.summary import is_number, result_columns
from regdemo.train.history import History

# Fields that are no hyperparameter: the run's own names (variant is one, under its name), and the sweep's
# record of the values (they are the dotted fields themselves).
NOT_HPARAMS = ("name", "experiment", "variant", "sweep")
MAX_DISCRETE = 12  # up to this many distinct numbers: a Discrete domain (a checkbox each); more: an interval
EPOCH_TAGS = {"train": ("loss", "data_loss", "accuracy", "penalty"), "validation": ("loss", "data_loss", "accuracy")}

HParamValue = bool | int | float | str


class Trained(Protocol):
    """What a run's event files are written from (:class:`regdemo.runs.one_run.RunOutput` is one)."""

    config: RunConfig
    history: History
    metrics: dict[str, Any]
    snapshots: list[tuple[int, list[tuple[str, np.ndarray]]]]  # (epoch, [(layer name, kernel)])


def _hparam(value: Any) -> HParamValue | None:
    """A config value as an hparam value (bool, int, float or str): lists as JSON; None for no value."""
    if value is None or value == {}:
        return None
    return json.dumps(value) if isinstance(value, list) else value


def hparam_values(config: RunConfig) -> dict[str, HParamValue]:
    """A run's hparams: ``variant``, then every dotted field of its resolved config that has a value."""
    fields = dotted_fields(config.to_dict())
    values = {"variant": config.variant or config.name}
    for path, value in fields.items():
        if path.split(".")[0] not in NOT_HPARAMS and (shown := _hparam(value)) is not None:
            values[path] = shown
    return values


def _same(value: HParamValue) -> tuple[str, HParamValue]:
    """What makes two hparam values the same: 0 and 0.0 alike, False and 0 not."""
    if isinstance(value, bool) or not is_number(value):
        return type(value).__name__, value
    return "number", float(value)


def varying(runs: Sequence[RunConfig]) -> dict[str, list[HParamValue]]:
    """The hparams whose values differ between ``runs``: name → its distinct values, in first-seen order
    (every hparam of a single run, so that one run still shows in the dashboard)."""
    seen: dict[str, dict[tuple[str, HParamValue], HParamValue]] = {}
    for config in runs:
        for name, value in hparam_values(config).items():
            seen.setdefault(name, {}).setdefault(_same(value), value)
    return {name: list(values.values()) for name, values in seen.items() if len(runs) == 1 or len(values) > 1}


def domain(values: Sequence[HParamValue]) -> Any:
    """The HParams domain of these values: Discrete for strings, bools and up to :data:`MAX_DISCRETE` numbers
    (as floats when any is one), else the interval they span (IntInterval for integers, RealInterval)."""
    from tensorboard.plugins.hparams import summary_v2 as hp  # its api module would import TensorFlow

    if all(is_number(v) for v in values):
        floats = any(isinstance(v, float) for v in values)
        if len(values) <= MAX_DISCRETE:
            return hp.Discrete([float(v) for v in values] if floats else list(values))
        if floats:
            return hp.RealInterval(float(min(values)), float(max(values)))
        return hp.IntInterval(int(min(values)), int(max(values)))
    if all(isinstance(v, bool) for v in values):
        return hp.Discrete(list(values))
    return hp.Discrete([str(v) for v in values])  # strings (a mix of kinds: as text)


def metric_columns(rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The summary's result columns that hold a number in some row of summary.csv (cells as text)."""

    def number(cell: str | None) -> bool:
        try:
            return cell not in (None, "") and bool(float(cell) == float(cell))
        except ValueError:
            return False

    return [column for column in result_columns({}) if any(number(row.get(column)) for row in rows)]


def experiment_summary(runs: Sequence[RunConfig], metrics: Sequence[str]) -> bytes:
    """The HParams experiment summary as one serialized ``Event`` (``step`` 0)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp

    hparams = [hp.HParam(name, domain(values)) for name, values in varying(runs).items()]
    summary = hp.hparams_config_pb(hparams, [hp.Metric(column) for column in metrics], time.time())
    return event_pb2.Event(wall_time=time.time(), step=0, summary=summary).SerializeToString()


def write_experiment(exp_dir: Path, runs: Sequence[RunConfig]) -> Path:
    """Write (replace) ``exp_dir/tensorboard/`` whole: one event file holding the HParams experiment summary of
    ``runs``, its metrics the result columns of summary.csv; return the folder."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    metrics = metric_columns(rundir.read_summary(exp_dir)) if (exp_dir / rundir.SUMMARY).is_file() else []
    header = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
    events = (header, experiment_summary(runs, metrics))
    name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.regdemo.v2"

    def fill(folder: Path) -> None:
        folder.mkdir()
        writer = RecordWriter((folder / name).open("wb"))
        for event in events:
            writer.write(event)
        writer.close()

    storage.write_whole(exp_dir / rundir.TENSORBOARD, fill)
    return exp_dir / rundir.TENSORBOARD


def write_tensorboard(result: Trained, log_dir: Path) -> None:
    """A run's event files: ``train/`` and ``validation/`` as Keras' TensorBoard callback writes them (per-epoch
    loss, data loss, accuracy and penalty; kernel histograms at the kept snapshots), and ``log_dir`` itself an
    HParams session (hparams, the summary's result columns at step ``epochs_run``, session end)."""
    import tensorflow as tf

    columns = result.history.columns
    for side, names in EPOCH_TAGS.items():
        writer = tf.summary.create_file_writer(str(log_dir / side))
        with writer.as_default():
            prefix = "" if side == "train" else "val_"
            for epoch in range(result.history.epochs_run):
                for name in names:
                    tf.summary.scalar(f"epoch_{name}", columns[prefix + name][epoch], step=epoch + 1)
            if side == "train":
                for epoch, kernels in result.snapshots:
                    for name, kernel in kernels:
                        tf.summary.histogram(f"kernel/{name}", kernel, step=epoch)
        writer.close()
    _write_session(result, log_dir)


def _write_session(result: Trained, log_dir: Path) -> None:
    """The run as an HParams session, as TensorBoard's HParams Keras callback writes one (start, end), with its
    summary numbers as scalars between them (a diverged run ends as a failure)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2, summary

    numbers = {key: v for key, v in result_columns(result.metrics).items() if is_number(v)}
    status = api_pb2.STATUS_SUCCESS if result.metrics["status"] == "completed" else api_pb2.STATUS_FAILURE
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        hp.hparams(hparam_values(result.config), trial_id=result.config.name)
        for key, value in numbers.items():
            tf.summary.scalar(key, value, step=result.history.epochs_run)
        tf.summary.experimental.write_raw_pb(summary.session_end_pb(status).SerializeToString(), step=0)
    writer.close()
