"""The Ray backend: each pack of runs is a Ray task that returns its run folders as data; the driver writes them.

The runs to do are planned into packs as the local backend plans them (:func:`regdemo.runs.packs.packs`, for
the CPUs Ray has: one task each), and each task trains its pack together (:func:`regdemo.runs.one_run.execute_pack`).
Workers share no file system with the driver: a task trains its pack into a private temporary folder
(:func:`regdemo.runs.one_run.execute_pack_to_files`) and returns each run's files; the driver writes each run
folder whole (:func:`regdemo.results.rundir.write_folder_files`), so a run folder appears whole or not at all, as
with the local pool. A task whose worker process (or node) dies is retried by Ray up to :data:`MAX_RETRIES`
times, then every run of its pack is recorded as a ``failed`` run; a run that raises is already a ``failed``
folder among its pack's (not retried: it would fail again). Needs ``pip install 'regdemo[ray]'``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import ray
import ray.exceptions

from regdemo.config.resources import available_memory
from regdemo.config.schema import RunConfig
from regdemo.errors import BackendUnavailable
from regdemo.options import LOOPBACK
from regdemo.results import rundir
from regdemo.runs.backends import Job, RunDone, finished_run, summary_share
from regdemo.runs.packs import packs
from regdemo.train.tfsetup import load_tensorflow

MAX_RETRIES = 2  # attempts after a worker or node died; a run that raises is not retried

Work = Callable[[list[RunConfig], bool], list[dict[str, bytes]]]
"""What a task does in its worker: ``(pack, tensorboard) -> [{relative path: bytes}, ...]``, each run folder of
the pack in its order."""

_threads: int | None = None  # TensorFlow's thread count in this worker process, once it is loaded


def _load_tensorflow_once() -> None:
    """Import TensorFlow once per worker process, with as many threads as CPUs Ray gave the task
    (1 per task, as the local pool gives each worker when workers == cores: the same numbers)."""
    global _threads
    if _threads is None:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        _threads = max(1, int(cpus))
        load_tensorflow(_threads)


def train_to_files(pack: list[RunConfig], tensorboard: bool) -> list[dict[str, bytes]]:
    """The production :data:`Work`: train one pack in this worker; return its run folders as
    ``{relative path: bytes}``, in the pack's order."""
    _load_tensorflow_once()
    from regdemo.runs.one_run import execute_pack_to_files

    return execute_pack_to_files(pack, tensorboard)


@ray.remote(num_cpus=1, max_retries=MAX_RETRIES)
def _task(work: Work, pack: list[RunConfig], tensorboard: bool) -> list[dict[str, bytes]]:
    """One task: ``work`` one pack (``work`` travels with the task: see :func:`execute`)."""
    return work(pack, tensorboard)


@contextlib.contextmanager
def _loopback_resolution() -> Iterator[None]:
    """Keep ``127.0.0.1`` meaning loopback while Ray starts or connects.

    On Linux Ray replaces a loopback ``_node_ip_address`` (or a loopback cluster address) by the
    machine's outward address, and its servers then listen on every interface. Ray keeps loopback
    only with its "cluster mode" off ($RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), a flag read once when
    ``ray`` is imported, so it is switched here for the duration of ``ray.init``.
    """
    # Private: Ray has no public switch for this flag (it is read from the environment at import time).
    from ray._private import ray_constants

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


def _is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]") or address
    return host in LOOPBACK


def connect(address: str | None, workers: int) -> None:
    """Start a local Ray instance with ``workers`` CPUs, bound to 127.0.0.1 (``address`` None), or
    join the cluster at ``address``. Undo with ``ray.shutdown()`` (which only disconnects from a
    cluster it joined)."""
    common = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        with _loopback_resolution():
            ray.init(
                address="local",  # a new instance, even if a `ray start` cluster runs on this machine
                num_cpus=workers,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                **common,
            )
        return
    try:
        with _loopback_resolution() if _is_loopback(address) else contextlib.nullcontext():
            ray.init(address=address, **common)
    except ConnectionError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BackendUnavailable(
            f"--ray-address {address}: {first}; if the cluster uses token authentication, "
            "set RAY_AUTH_MODE=token and give its token (RAY_AUTH_TOKEN or ~/.ray/auth_token)"
        ) from None


def _plan(job: Job) -> list[list[RunConfig]]:
    """``job.todo`` as packs (:func:`regdemo.runs.packs.packs`) for the Ray instance just joined: as many workers
    as it has CPUs (one task a CPU); the memory of this machine for an instance started here, else, on a cluster,
    what its leanest node has per CPU, for every CPU (a pack may land on any node). Split for every CPU however
    small the packs: spreading the runs over the cluster is what a Ray backend is for."""
    cpus = max(1, int(ray.cluster_resources().get("CPU", job.workers)))
    if job.options.ray_address is None:
        return packs(job.todo, cpus, available_memory(), job.options.tensorboard, split_at=1)
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive") and node["Resources"].get("CPU")]
    # a node that declares no memory resource: packs of one, as if no memory were known
    per_cpu = min((node.get("memory", 0) / node["CPU"] for node in nodes), default=0)
    return packs(job.todo, cpus, int(per_cpu * cpus), job.options.tensorboard, split_at=1)


def _collect(ref: ray.ObjectRef, pack: list[RunConfig], exp_dir: Path) -> Iterator[RunDone]:
    """Write one finished task's run folders (or, if its worker died past the retries, a failed one per run of
    its pack); yield ``(name, status, metrics)`` per run as written, the metrics from the bytes the task returned."""
    try:
        folders = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker or node died MAX_RETRIES + 1 times
        for cfg in pack:
            rundir.write_failed_whole(cfg, exp_dir / cfg.name, exc)
            yield finished_run(cfg, exp_dir, "failed")
        return
    for cfg, files in zip(pack, folders, strict=True):
        status = rundir.write_folder_files(files, exp_dir / cfg.name)
        yield RunDone(cfg.name, status, json.loads(files[rundir.METRICS]))


def _ready(pending: list[ray.ObjectRef]) -> list[ray.ObjectRef]:
    """Wait (up to a second, so Ctrl-C is seen) for a task to finish; return every finished one."""
    first, _ = ray.wait(pending, num_returns=1, timeout=1.0)
    if not first:
        return []
    done, _ = ray.wait(pending, num_returns=len(pending), timeout=0)
    return done


def execute(job: Job, *, work: Work = train_to_files) -> Iterator[RunDone]:
    """The Ray backend (see :mod:`regdemo.runs.backends`): run ``job.todo`` as Ray tasks, a pack each; yield a
    :class:`RunDone` as each folder is written, then draw the comparison figures of ``job.summarize`` here, in
    the driver.

    With no ``job.options.ray_address`` a local instance with ``job.workers`` CPUs lives for the duration of
    the runs; else the cluster at that address is joined. On any exit (Ctrl-C included) the local instance is
    shut down, or a cluster's outstanding tasks are cancelled and the driver disconnects. Each task calls
    ``work`` (:func:`train_to_files`; another function must be importable, or pickled by value, in Ray's
    workers).
    """
    if job.todo:
        yield from _run_tasks(job, work)
    if job.summarize:
        summary_share(job)


def _run_tasks(job: Job, work: Work) -> Iterator[RunDone]:
    """Join Ray, submit every pack, write each run folder as its pack's task finishes; disconnect on any exit."""
    address = job.options.ray_address
    connect(address, job.workers)
    pending: dict[ray.ObjectRef, list[RunConfig]] = {}
    try:
        pending = {_task.remote(work, pack, job.options.tensorboard): pack for pack in _plan(job)}
        while pending:
            for ref in _ready(list(pending)):
                yield from _collect(ref, pending.pop(ref), job.exp_dir)
    finally:
        # Our own instance dies whole with ray.shutdown(). Cancelling its tasks first races with
        # their completion (Ctrl-C reaches its workers too) and can abort Ray's core worker
        # ("Tried to complete task that was not pending", Ray 2.x), so only a cluster's are cancelled.
        if address is not None:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        ray.shutdown()
