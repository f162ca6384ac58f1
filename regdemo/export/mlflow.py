"""``regdemo export mlflow``: every run of a saved experiment folder as one MLflow run, through MLflow's own
client (:class:`mlflow.tracking.MlflowClient`; the optional extra ``regdemo[mlflow]``).

Each MLflow run is named as the regdemo run and holds:

- params: the resolved config (config.yaml) flattened to dotted keys (``model.regularizer.lambda``);
- metrics: history.csv's columns per epoch (step = epoch, from 1), and the summary's result columns (summary.csv's
  names; those that are also a history column as ``final_<name>``, e.g. ``final_val_accuracy``) at step
  ``epochs_run``;
- tags: ``regdemo.status``, ``regdemo.variant``, ``regdemo.version`` (the regdemo that trained it),
  ``regdemo.experiment`` and ``regdemo.config_hash``; a failed run's MLflow status is FAILED, any other's FINISHED;
- artifacts: config.yaml, metrics.json, history.csv, the PNGs, the film and a failed run's error.txt, those present.

The default tracking URI is a SQLite database beside the experiment folder (``outputs/<name>.mlflow.db``, the
artifacts in ``outputs/<name>.mlflow-artifacts/``): MLflow's own default kind of store, offline. A second export
adds nothing: a run already there with the same name and config hash is kept (one left unfinished by an
interrupted export is deleted and logged again; a run that failed there and has completed since replaces it).
The experiment folder is only read (:mod:`regdemo.results.rundir`); nothing in it is written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regdemo
from regdemo.columns import COLUMNS
from regdemo.config.schema import RunConfig, dotted_fields
from regdemo.errors import ExportError, RunFolderError
from regdemo.options import unreachable
from regdemo.results import rundir
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import dig, result_columns

if TYPE_CHECKING:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

NEEDS = "needs mlflow: pip install 'regdemo[mlflow]'"
STATUS, VARIANT, VERSION = "regdemo.status", "regdemo.variant", "regdemo.version"
EXPERIMENT, CONFIG_HASH = "regdemo.experiment", "regdemo.config_hash"
ARTIFACTS = (
    rundir.CONFIG,
    rundir.METRICS,
    rundir.HISTORY,
    *rundir.RUN_PLOTS,
    rundir.TRAINING_GIF,
    rundir.TRAINING_FRAMES,
    rundir.ERROR,
)
BATCH = 1000  # entities per log_batch call: MLflow's limit (mlflow.utils.validation.MAX_ENTITIES_PER_BATCH)
PARAMS_PER_BATCH = 100  # its MAX_PARAMS_TAGS_PER_BATCH


@dataclass(frozen=True)
class Exported:
    """What one export did: where the runs went, and which runs it added and which were there already."""

    tracking_uri: str
    experiment: str
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def default_store(exp_dir: Path) -> tuple[str, Path]:
    """The default tracking URI and artifact folder: ``sqlite:///<parent>/<name>.mlflow.db`` and
    ``<parent>/<name>.mlflow-artifacts`` beside the experiment folder (absolute, so any working directory works)."""
    folder = exp_dir.resolve()
    database = folder.parent / f"{folder.name}.mlflow.db"
    return f"sqlite:///{database}", folder.parent / f"{folder.name}.mlflow-artifacts"


def config_hash(config: RunConfig) -> str:
    """SHA-256 of the resolved config as canonical JSON: equal for equal configs, whichever file order."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    """A param's value as MLflow stores it (text): strings as they are, anything else as JSON (``[128, 128]``)."""
    return value if isinstance(value, str) else json.dumps(value)


def run_params(run: LoadedRun) -> dict[str, str]:
    """The run's resolved config as dotted key → text."""
    return {key: _text(value) for key, value in dotted_fields(run.config.to_dict()).items()}


def run_tags(run: LoadedRun) -> dict[str, str]:
    """status, variant, regdemo's version (the one that trained it; this one's for a failed run), experiment
    and config hash."""
    return {
        STATUS: run.status,
        VARIANT: run.variant,
        VERSION: str(dig(run.metrics, "versions", "regdemo") or regdemo.__version__),
        EXPERIMENT: run.config.experiment,
        CONFIG_HASH: config_hash(run.config),
    }


def final_numbers(run: LoadedRun) -> dict[str, float]:
    """The summary's result columns that are numbers (a history column's name as ``final_<name>``)."""
    numbers = {key: value for key, value in result_columns(run.metrics).items() if value is not None}
    return {f"final_{key}" if key in COLUMNS else key: float(value) for key, value in numbers.items()}


def run_metrics(run: LoadedRun, timestamp: int) -> list[Metric]:
    """history.csv per epoch (step = epoch), then the final numbers at step ``epochs_run`` (MLflow Metrics)."""
    from mlflow.entities import Metric

    metrics = [
        Metric(name, float(value), timestamp, epoch)
        for name, values in run.history.items()
        for epoch, value in enumerate(values.tolist(), start=1)
    ]
    last = int(run.metrics.get("epochs_run") or 0)
    return metrics + [Metric(name, value, timestamp, last) for name, value in final_numbers(run).items()]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _log_run(client: MlflowClient, experiment_id: str, run: LoadedRun) -> None:
    """One regdemo run as a new MLflow run; terminated last, so an interrupted one is left RUNNING."""
    from mlflow.entities import Param

    now = int(time.time() * 1000)
    created = client.create_run(experiment_id, start_time=now, tags=run_tags(run), run_name=run.label)
    run_id = created.info.run_id
    params: list[Param] = [Param(key, value) for key, value in run_params(run).items()]
    for part in _chunks(params, PARAMS_PER_BATCH):
        client.log_batch(run_id, params=part)
    for part in _chunks(run_metrics(run, now), BATCH):
        client.log_batch(run_id, metrics=part)
    for name in ARTIFACTS:
        if rundir.is_regular(run.path / name):  # a link planted in a received folder is not uploaded
            client.log_artifact(run_id, str(run.path / name))
    client.set_terminated(run_id, "FAILED" if run.failed else "FINISHED")


def _existing(client: MlflowClient, experiment_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The experiment's finished regdemo runs, (name, config hash) → (run id, regdemo status); runs an
    interrupted export left RUNNING are deleted (they are logged again)."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for other in page:
            digest = other.data.tags.get(CONFIG_HASH)
            if digest is None:
                continue
            if other.info.status == "RUNNING":
                client.delete_run(other.info.run_id)
                continue
            found[other.info.run_name, digest] = (other.info.run_id, other.data.tags.get(STATUS, ""))
        token = page.token
        if not token:
            return found


def _experiment_id(client: MlflowClient, name: str, artifacts: Path | None) -> str:
    """The MLflow experiment ``name``, created (its artifacts in ``artifacts``, if given) when there is none."""
    there = client.get_experiment_by_name(name)
    if there is not None:
        if there.lifecycle_stage == "deleted":
            raise ExportError(f"MLflow experiment {name!r} is deleted; restore it or give --experiment another name")
        return there.experiment_id
    return client.create_experiment(name, artifact_location=artifacts.as_uri() if artifacts else None)


def _check_target(tracking_uri: str) -> None:
    """mlflow importable (and SQLAlchemy for a database URI), an HTTP server reachable; no telemetry."""
    sql = tracking_uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql")
    if importlib.util.find_spec("mlflow") is None or (sql and importlib.util.find_spec("sqlalchemy") is None):
        raise ExportError(NEEDS)
    parsed = urllib.parse.urlsplit(tracking_uri)
    if parsed.scheme in ("http", "https") and parsed.hostname:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if problem := unreachable(f"{parsed.hostname}:{port}"):
            raise ExportError(f"--tracking-uri {tracking_uri}: {problem}")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # an offline export sends nothing anywhere


def _loaded(exp_dir: Path) -> list[LoadedRun]:
    """The experiment's runs, read back whole (a damaged folder is one line before anything is exported)."""
    run_dirs = rundir.find_runs(exp_dir)
    if not run_dirs:
        raise RunFolderError(f"{exp_dir}: not a regdemo experiment folder (no run folders with metrics.json)")
    return rundir.load_runs(run_dirs)


def export_experiment(exp_dir: Path, tracking_uri: str | None = None, experiment: str | None = None) -> Exported:
    """Export every run of ``exp_dir`` into the MLflow experiment ``experiment`` (default: the experiment's
    name) at ``tracking_uri`` (default: :func:`default_store`); skip those already there.

    Raises :class:`RunFolderError` for a folder that is not an experiment's, :class:`ExportError` when mlflow
    is missing or the tracking URI cannot be used (both one line)."""
    runs = _loaded(exp_dir)
    artifacts = None
    if tracking_uri is None:
        tracking_uri, artifacts = default_store(exp_dir)
    names = {run.config.experiment for run in runs}
    name = experiment or (names.pop() if len(names) == 1 else exp_dir.resolve().name)
    _check_target(tracking_uri)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    for logger in ("mlflow", "alembic"):  # their INFO lines (creating the database tables): after mlflow's import
        logging.getLogger(logger).setLevel(logging.WARNING)  # set them up
    done = Exported(tracking_uri, name)
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment_id = _experiment_id(client, name, artifacts)
        existing = _existing(client, experiment_id)
        for run in runs:
            there = existing.get((run.label, config_hash(run.config)))
            if there is not None and there[1] == run.status:
                done.kept.append(run.label)
                continue
            if there is not None:  # it failed there and has completed (or diverged) since: replaced
                client.delete_run(there[0])
            _log_run(client, experiment_id, run)
            done.added.append(run.label)
    except MlflowException as exc:
        first = str(exc.message).strip().split(". ", 1)[0].splitlines()  # its first sentence: the reason
        raise ExportError(f"{tracking_uri}: {first[0] if first else type(exc).__name__}") from None
    return done
