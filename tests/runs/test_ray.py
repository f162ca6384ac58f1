"""The Ray backend: same summary and histories as the local pool, a pack per task, retries of dying workers (a
whole pack at a time), resume, Ctrl-C, loopback only.

One Ray instance (2 CPUs, 127.0.0.1 only) serves the module; the tests join it with --ray-address.
One more test lets the command start (and, on Ctrl-C, stop) its own local instance.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY, descendants
from regdemo.cli import main
from regdemo.results import rundir

# Every test here starts or joins Ray (one xdist worker runs this file: --dist loadfile).
pytestmark = pytest.mark.ray
# CI installs the extra, so there a missing Ray is a failure, not a skip.
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
    reason="needs Ray: pip install 'regdemo[ray]'",
)
QUICK = TINY.replace("epochs: 30", "epochs: 4").replace("resolution: 24", "resolution: 12")
SWEEP4 = (
    QUICK.split("runs:")[0]
    + """\
sweep:
  model.regularizer.kind: [l1, l2]
  model.regularizer.lambda: [0.001, 0.01]
"""
)
# on the module's 2 CPUs: two packs, [steady, dies_once] and [dies_always, its_packmate]
DYING = (
    QUICK.split("runs:")[0]
    + "runs:\n"
    + "".join(f"  - name: {name}\n" for name in ("steady", "dies_once", "dies_always", "its_packmate"))
)
# Started as its own process so that the tests' drivers join it (and leave it running) as users would.
CLUSTER = """\
import sys, ray
from regdemo.runs.backends.ray import connect
connect(None, 2)
print("address", ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the tests close our stdin
ray.shutdown()
"""


@pytest.fixture(scope="module")
def cluster():
    """A Ray instance on loopback for the module: its address."""
    # loopback only and gone with the module: no token, so that the in-process drivers can join it as they are
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        line = proc.stdout.readline().split()
        assert line[:1] == ["address"], "the Ray instance did not start"
        yield line[1]
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _marked_work(marks: Path, pack: list, tensorboard: bool) -> list[dict[str, bytes]]:
    """A Ray task's work for the tests: log the attempt as a line of ``<marks>/<run>.attempts`` per run of the
    pack; die as a crashed worker (or node) would when ``<marks>/<run>.crash`` exists for one of its runs (every
    attempt) or ``<marks>/<run>.crash-once`` does (the first one only); else train as in production."""
    for cfg in pack:
        with (marks / f"{cfg.name}.attempts").open("a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
    for cfg in pack:
        with contextlib.suppress(FileNotFoundError):
            (marks / f"{cfg.name}.crash-once").unlink()
            os._exit(1)
        if (marks / f"{cfg.name}.crash").exists():
            os._exit(1)
    from regdemo.runs.backends.ray import train_to_files

    return train_to_files(pack, tensorboard)


def _attempted(marks: Path) -> list[str]:
    """The runs whose task started, once per attempt (as :func:`_marked_work` logged them)."""
    return [log.stem for log in sorted(marks.glob("*.attempts")) for _ in log.read_text().split()]


@pytest.fixture
def marked(monkeypatch, tmp_path_factory) -> Path:
    """The Ray backend's tasks run :func:`_marked_work` on a fresh folder of markers, returned."""
    import ray.cloudpickle

    from regdemo.runs.backends import ray as ray_backend

    marks = tmp_path_factory.mktemp("marks")
    # Ray's workers cannot import this test module: its functions travel by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(
        ray_backend, "execute", functools.partial(ray_backend.execute, work=functools.partial(_marked_work, marks))
    )
    yield marks
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def ray_sweep(cluster, tmp_path_factory) -> Path:
    """SWEEP4 (4 runs) run once through --backend ray on the module's instance."""
    import ray

    root = tmp_path_factory.mktemp("ray_sweep")
    config = root / "sweep.yaml"
    config.write_text(SWEEP4, encoding="utf-8")
    assert (
        main(["run", str(config), "--out", str(root / "out"), "--quiet", "--backend", "ray", "--ray-address", cluster])
        == 0
    )
    assert not ray.is_initialized()  # the driver disconnected
    return root / "out" / "tiny"


def _rows_without_timings(folder: Path) -> list[dict[str, str]]:
    with (folder / "summary.csv").open(newline="") as f:
        return [{k: v for k, v in row.items() if "seconds" not in k} for row in csv.DictReader(f)]


def _metrics(run_dir: Path) -> dict:
    numbers = json.loads((run_dir / "metrics.json").read_text())
    numbers.pop("timing")
    return numbers


@pytest.mark.slow
@needs_ray
def test_ray_gives_the_same_summary_and_files_as_the_local_pool(ray_sweep, write_config, tmp_path) -> None:
    local_out = tmp_path / "local"
    assert main(["run", str(write_config(SWEEP4)), "--out", str(local_out), "--quiet", "--workers", "2"]) == 0
    local = local_out / "tiny"
    ray_rows, local_rows = _rows_without_timings(ray_sweep), _rows_without_timings(local)
    assert len(ray_rows) == 4 and all(row["status"] == "completed" for row in ray_rows)
    assert ray_rows == local_rows
    for run in (row["run"] for row in local_rows):
        assert sorted(p.name for p in (ray_sweep / run).iterdir()) == sorted(p.name for p in (local / run).iterdir())
        assert _metrics(ray_sweep / run) == _metrics(local / run)
    assert not [p for p in ray_sweep.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
@needs_ray
def test_a_run_trained_in_a_ray_pack_has_the_history_bytes_it_has_trained_locally(
    cluster, write_config, tmp_path
) -> None:
    """Ray's 2 CPUs: two packs of two; the local backend with one worker: one pack of four. Each run's
    history.csv the same bytes, whatever its company."""
    config = str(write_config(SWEEP4.replace("epochs: 4", "epochs: 30")))
    ray_cmd = ["run", config, "--out", str(tmp_path / "ray"), "--quiet", "--backend", "ray", "--ray-address", cluster]
    assert main(ray_cmd) == 0
    assert main(["run", config, "--out", str(tmp_path / "local"), "--quiet", "--workers", "1"]) == 0
    runs = [row["run"] for row in rundir.read_summary(tmp_path / "local" / "tiny")]
    assert len(runs) == 4
    for run in runs:
        on_ray, local = tmp_path / "ray" / "tiny" / run, tmp_path / "local" / "tiny" / run
        assert json.loads((on_ray / "metrics.json").read_text())["timing"]["pack_runs"] == 2
        assert json.loads((local / "metrics.json").read_text())["timing"]["pack_runs"] == 4
        assert (on_ray / "history.csv").read_bytes() == (local / "history.csv").read_bytes(), run
        assert len((local / "history.csv").read_text().splitlines()) == 1 + 30  # header, an epoch a line


def test_a_pack_as_files_is_each_runs_folder_in_order_and_a_raising_run_only_its_own_failure(
    write_config, monkeypatch
) -> None:
    """What a Ray task returns (:func:`regdemo.runs.one_run.execute_pack_to_files`): one folder per run, in the
    pack's order; a run that raises while measured is a failed folder, its packmates are completed."""
    from regdemo.config.loading import load_experiment
    from regdemo.runs import one_run

    pack = load_experiment(write_config(QUICK)).runs
    real = one_run.measure_run

    def measure(run, history, size=1):
        if run.config.name == "l2":
            raise RuntimeError("l2 cannot be measured")
        return real(run, history, size)

    monkeypatch.setattr(one_run, "measure_run", measure)
    folders = one_run.execute_pack_to_files(pack)
    numbers = [json.loads(files[rundir.METRICS]) for files in folders]
    assert [(n["run"], n["status"]) for n in numbers] == [("none", "completed"), ("l2", "failed"), ("l1", "completed")]
    assert numbers[1]["error"] == "RuntimeError: l2 cannot be measured"
    assert sorted(folders[1]) == ["config.yaml", "error.txt", "metrics.json"]
    assert [n["timing"]["pack_runs"] for n in (numbers[0], numbers[2])] == [3, 3]  # trained together
    assert len(folders[0]["history.csv"].decode().splitlines()) == 1 + 4


@needs_ray
def test_packs_are_planned_for_the_clusters_cpus_and_its_leanest_nodes_memory(write_config, monkeypatch) -> None:
    from regdemo.config.loading import load_experiment
    from regdemo.options import RunOptions
    from regdemo.runs.backends import Job
    from regdemo.runs.backends import ray as ray_backend
    from regdemo.runs.packs import stacked_bytes

    todo = load_experiment(write_config(SWEEP4)).runs  # 4 runs of one pack key
    plenty, lean = 2.0**40, 1.5 * stacked_bytes(todo[0])  # the lean node has room for one run a CPU
    nodes = []  # (alive, resources)
    monkeypatch.setattr(ray_backend.ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(ray_backend.ray, "nodes", lambda: [{"Alive": a, "Resources": r} for a, r in nodes])
    monkeypatch.setattr(ray_backend, "available_memory", lambda: 1)  # this machine's: no bound on a cluster
    on_cluster = RunOptions(backend="ray", ray_address="127.0.0.1:1")

    def sizes(options: RunOptions) -> list[int]:
        return [len(pack) for pack in ray_backend._plan(Job(todo, Path("unused"), options))]

    nodes[:] = [(True, {"CPU": 1.0, "memory": plenty}), (True, {"CPU": 1.0, "memory": plenty})]
    assert sizes(on_cluster) == [2, 2]  # a pack per CPU at least, sized alike
    nodes.append((True, {"CPU": 0.0, "memory": 1.0}))  # gets no task: no bound
    nodes.append((False, {"CPU": 1.0, "memory": 1.0}))  # dead: no bound
    assert sizes(on_cluster) == [2, 2]
    nodes[1] = (True, {"CPU": 1.0, "memory": lean})
    assert sizes(on_cluster) == [1, 1, 1, 1]  # any pack may land on the lean node
    assert sizes(RunOptions(backend="ray", workers=2)) == [1, 1, 1, 1]  # self-started: this machine's memory
    monkeypatch.setattr(ray_backend, "available_memory", lambda: int(plenty))
    assert sizes(RunOptions(backend="ray", workers=2)) == [2, 2]
    assert sizes(RunOptions(backend="ray", workers=2, tensorboard=True)) == [1, 1, 1, 1]  # histograms: alone


@pytest.mark.slow
@needs_ray
def test_resume_submits_only_the_runs_not_yet_complete(
    ray_sweep, cluster, marked, tmp_path, monkeypatch, capsys
) -> None:
    from regdemo.runs.backends import ray as ray_backend

    exp = tmp_path / "tiny"
    shutil.copytree(ray_sweep, exp)
    shutil.rmtree(exp / "kind-l2__lambda-0.001")
    kept = (exp / "kind-l1__lambda-0.01" / "metrics.json").stat().st_mtime_ns
    connects = []
    real_connect = ray_backend.connect
    monkeypatch.setattr(ray_backend, "connect", lambda *a: connects.append(a) or real_connect(*a))
    config = tmp_path / "sweep.yaml"
    config.write_text(SWEEP4, encoding="utf-8")
    cmd = ["run", str(config), "--out", str(tmp_path), "--quiet", "--backend", "ray", "--ray-address", cluster]
    assert main(cmd) == 0
    submitted = _attempted(marked)
    assert "skipping 3 completed run(s) with identical config; 1 to run" in capsys.readouterr().out
    assert submitted == ["kind-l2__lambda-0.001"] and len(connects) == 1
    assert (exp / "kind-l1__lambda-0.01" / "metrics.json").stat().st_mtime_ns == kept
    assert _rows_without_timings(exp) == _rows_without_timings(ray_sweep)
    assert main(cmd) == 0
    assert "skipping 4 completed run(s) with identical config; 0 to run" in capsys.readouterr().out
    submitted = _attempted(marked)
    assert submitted == ["kind-l2__lambda-0.001"] and len(connects) == 1  # nothing submitted, Ray not even joined


@pytest.mark.slow
@needs_ray
def test_a_dying_worker_is_retried_and_past_the_retries_its_packs_runs_fail(
    cluster, marked, write_config, tmp_path, capsys
) -> None:
    from regdemo.runs.backends.ray import MAX_RETRIES

    address, crash_dir = cluster, marked  # the tasks die as the markers in crash_dir say
    (crash_dir / "dies_once.crash-once").touch()
    (crash_dir / "dies_always.crash").touch()
    cmd = ["run", str(write_config(DYING)), "--out", str(tmp_path), "--backend", "ray", "--no-report"]
    assert main([*cmd, "--ray-address", address]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "2 run(s) failed: dies_always, its_packmate (see their error.txt)"
    # stderr is no terminal: the runner's display is one plain line per finished run, as with local workers
    shown = {line.split()[1]: line for line in err[:-1]}
    assert sorted(shown) == ["dies_always", "dies_once", "its_packmate", "steady"] and len(err) == 5, err
    assert re.match(r"\[\d/4\] steady completed  val_accuracy \d\S*  generalization_gap \S+  elapsed ", shown["steady"])
    assert shown["dies_always"].split()[2:4] == ["failed", "error:"]
    # a task is a pack: its runs are attempted, retried and failed together
    attempts = {name: len((crash_dir / f"{name}.attempts").read_text().split()) for name in shown}
    assert attempts == {"steady": 2, "dies_once": 2, "dies_always": 1 + MAX_RETRIES, "its_packmate": 1 + MAX_RETRIES}
    exp = tmp_path / "tiny"
    assert _metrics(exp / "steady")["status"] == "completed"
    assert _metrics(exp / "dies_once")["status"] == "completed"
    for name in ("dies_always", "its_packmate"):
        failed = exp / name
        assert sorted(p.name for p in failed.iterdir()) == ["config.yaml", "error.txt", "metrics.json"]
        error = json.loads((failed / "metrics.json").read_text())["error"]
        assert error.startswith("WorkerCrashedError") and error in (failed / "error.txt").read_text()
    rows = {row["run"]: row["status"] for row in _rows_without_timings(exp)}
    assert rows == {"steady": "completed", "dies_once": "completed", "dies_always": "failed", "its_packmate": "failed"}


def _listening_hosts(pids: set[int]) -> set[str]:
    """The local addresses (hex, as in /proc/net/tcp*) on which these processes listen."""
    listening = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = fields[1].split(":")[0]
    hosts = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        hosts |= {listening[link[8:-1]] for link in links if link.startswith("socket:[") and link[8:-1] in listening}
    return hosts


LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@pytest.mark.slow
@needs_ray
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc")
def test_own_instance_listens_on_loopback_only_and_ctrl_c_stops_it_cleanly(write_config, tmp_path) -> None:
    # one CPU: three packs of two (one per epochs), one after another; the interrupt lands in the second
    config = write_config(
        SWEEP4.replace("lambda: [0.001, 0.01]", "lambda: [0.001]\n  training.epochs: [50, 400, 1600]")
    )
    cmd = [sys.executable, "-m", "regdemo", "run", str(config), "--out", str(tmp_path), "--quiet", "--backend", "ray"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    victim = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, text=True, env=env)
    exp = tmp_path / "tiny"
    deadline = time.monotonic() + 120
    # a run folder, not summary.csv: the runner starts that (its header) before any run finishes
    while time.monotonic() < deadline and not [p for p in exp.glob("*") if p.is_dir() and not p.name.startswith(".")]:
        time.sleep(0.05)
    ray_processes = descendants(victim.pid)
    hosts = _listening_hosts(ray_processes)
    os.killpg(victim.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = victim.communicate(timeout=60)
    assert hosts and hosts <= LOOPBACK_HEX, hosts
    assert victim.returncode == 130, err
    assert "interrupted: completed runs are kept" in err
    visible = [p for p in exp.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert 1 <= len(visible) < 6, "the interrupt should land half-way"
    assert all((p / "metrics.json").exists() and (p / "weights.png").exists() for p in visible)  # whole runs only
    assert {row["run"] for row in rundir.read_summary(exp)} <= {p.name for p in visible}  # rows of finished runs
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and [pid for pid in ray_processes if Path(f"/proc/{pid}").exists()]:
        time.sleep(0.1)
    assert not [pid for pid in ray_processes if Path(f"/proc/{pid}").exists()], "the local Ray instance outlived it"


def test_backend_ray_without_ray_is_one_line_and_writes_nothing(write_config, tmp_path, monkeypatch, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["run", str(write_config(QUICK)), "--out", str(tmp_path / "out"), "--backend", "ray"]) == 2
    assert capsys.readouterr().err == "--backend ray: needs Ray: pip install 'regdemo[ray]'\n"
    assert not (tmp_path / "out").exists()


@needs_ray
def test_bad_ray_address_is_one_line_and_writes_nothing(write_config, tmp_path, capsys) -> None:
    config = str(write_config(QUICK))
    out = ["--out", str(tmp_path / "out")]
    assert main(["run", config, *out, "--backend", "ray", "--ray-address", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.startswith("--ray-address 127.0.0.1:1: cannot connect (")
    assert main(["run", config, *out, "--ray-address", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err == "--ray-address: only with --backend ray\n"
    assert not (tmp_path / "out").exists()
