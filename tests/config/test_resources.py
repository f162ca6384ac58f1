"""Memory: the estimate against a measured peak, the preflight's refusals, and the chunked boundary grid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import REPO, train_run
from regdemo.api import run as regdemo_run
from regdemo.cli import main
from regdemo.config import resources
from regdemo.config.loading import load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.config.schema import BoundaryPlotConfig, ModelConfig
from regdemo.train.metrics import boundary_grid
from regdemo.train.models import build_model

LECTURE = REPO / "configs" / "lecture.yaml"


# ---------------------------------------------------------------- the boundary grid in chunks


def _one_call(model: keras.Model, cfg: BoundaryPlotConfig) -> np.ndarray:
    """The grid as it was computed before chunking: every point through the model in one call."""
    xs = np.linspace(*cfg.xlim, cfg.resolution, dtype=np.float32)
    ys = np.linspace(*cfg.ylim, cfg.resolution, dtype=np.float32)
    xx, yy = np.meshgrid(xs, ys)
    points = np.c_[xx.ravel(), yy.ravel()]
    return model(points, training=False).numpy().reshape(xx.shape).astype(np.float64)


def test_chunk_sizes_bound_a_layer_output_near_64_mib_in_whole_kibipoints() -> None:
    assert resources.grid_chunk_points(128) == 131072  # the lecture's 300² = 90000 points: one call
    assert resources.grid_chunk_points(257) == 64512
    assert resources.grid_chunk_points(1000) == 16384
    assert resources.grid_chunk_points(10**7) == 1024
    for widest in (1, 3, 128, 257, 1000, 4000):
        chunk = resources.grid_chunk_points(widest)
        assert chunk % 1024 == 0 and (chunk * widest * 4 <= 2**26 or chunk == 1024)


def test_the_lecture_grid_is_bit_identical_to_one_call_also_in_small_chunks() -> None:
    """The lecture's trained net (30 epochs) on its 300×300 grid: the default (one call, 90000 points
    < 131072) and forced chunks of 1024 and 4096 points give exactly the one-call probabilities."""
    cfg = load_experiment(LECTURE, parse_sets(["training.epochs=30"], "--set")).runs[0]
    model, data, _ = train_run(cfg)
    expected = _one_call(model, cfg.plots.boundary)
    for chunk in (None, 1024, 4096):
        grid = boundary_grid(model, cfg.plots.boundary, data.x_train, chunk=chunk)
        np.testing.assert_array_equal(grid.prob, expected)


@pytest.mark.parametrize(("units", "resolution"), [([1000], 300), ([257], 300), ([1000, 1000], 301)])
def test_wide_nets_in_default_chunks_equal_one_call(units: list[int], resolution: int) -> None:
    """width_sweep.yaml's [1000] and [257] at 300² (6 and 2 chunks), and a deeper 1000-unit net at an
    odd resolution (a last chunk of 8217 points): exactly the one-call probabilities."""
    keras.utils.set_random_seed(2)
    model = build_model(ModelConfig(hidden_units=units))
    cfg = BoundaryPlotConfig(xlim=[-2.0, 3.0], ylim=[-1.5, 2.0], resolution=resolution)
    assert resolution**2 > resources.grid_chunk_points(max(units))  # really chunked
    grid = boundary_grid(model, cfg, np.zeros((1, 2), dtype=np.float32))
    np.testing.assert_array_equal(grid.prob, _one_call(model, cfg))


# ---------------------------------------------------------------- the estimate against a measured peak

_MEASURE = """
import json, os, sys, tempfile
from pathlib import Path
from regdemo.train.tfsetup import load_tensorflow
load_tensorflow(1)
from regdemo.config.loading import load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.train.build import prepare
from regdemo.runs.one_run import execute_run
from regdemo.train.metrics import boundary_grid

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

what, cfg = sys.argv[1], load_experiment(sys.argv[2], parse_sets(sys.argv[3:], "--set")).runs[0]
model, data = prepare(cfg) if what == "grid" else (None, None)
with tempfile.TemporaryDirectory() as tmp:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    before = status("VmRSS")
    if what == "grid":
        result = boundary_grid(model, cfg.plots.boundary, data.x_train).prob.shape
    else:
        result = execute_run(cfg, Path(tmp))
    peak = status("VmHWM")
print(json.dumps({"result": result, "before": before, "peak": peak}))
"""
needs_proc = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's peak-RSS reset")


def _measure(what: str, sets: list[str]) -> dict:
    """In a fresh process with TensorFlow loaded: the RSS before and the peak RSS during ``what`` ("run":
    one whole run of the lecture config with ``sets``; "grid": only its boundary grid, untrained)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, what, str(LECTURE), *sets],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_proc
@pytest.mark.parametrize(
    "sets",
    [
        ["training.epochs=5"],  # the lecture's net and 300² grid
        ["training.epochs=2", "model.hidden_units=[1000,1000]", "plots.boundary.resolution=400"],  # 10 chunks
    ],
)
@pytest.mark.slow
def test_the_estimate_is_within_2x_of_the_measured_peak(sets: list[str]) -> None:
    """What is compared: a fresh process loads TensorFlow and regdemo, resets the kernel's peak-RSS
    counter (/proc/self/clear_refs), notes its RSS, then does everything one run does (``execute_run``:
    data, model, training, final metrics, the boundary grid, plots, writing the folder) and reads its
    peak RSS (VmHWM). The peak minus the RSS before the run is what the run added; it must be within
    2× of :attr:`Estimate.run_bytes`. The whole process's peak must be within 2× of
    :attr:`Estimate.process_bytes` (which adds the measured cost of TensorFlow & co. themselves).
    """
    cfg = load_experiment(LECTURE, parse_sets(sets, "--set")).runs[0]
    expected = resources.estimate(cfg)
    measured = _measure("run", sets)
    assert measured["result"] == "completed"
    added = measured["peak"] - measured["before"]
    assert 0.5 <= expected.run_bytes / added <= 2.0, (expected.terms, added)
    assert 0.5 <= expected.process_bytes / measured["peak"] <= 2.0, (expected.process_bytes, measured["peak"])


@pytest.mark.slow
@needs_proc
def test_a_2000_point_grid_through_1000_units_stays_small() -> None:
    """4 million grid points through a 1000-unit layer: one call made a 16 GB layer output; in chunks
    of 16384 points the grid adds under 400 MiB to the process (measured as above, grid only, on an
    untrained net). One 1000-unit layer, not two: a second one adds as much compute (4·10¹² multiply-adds,
    minutes) but no more memory (its chunk output is the same 16384 × 1000). The whole process stays
    well under 3 GB."""
    sets = ["model.hidden_units=[1000]", "plots.boundary.resolution=2000"]
    measured = _measure("grid", sets)
    assert measured["result"] == [2000, 2000]
    assert measured["peak"] - measured["before"] < 400 * 2**20
    assert measured["peak"] < 1.5 * 2**30


def test_estimate_terms_by_hand() -> None:
    cfg = load_experiment(LECTURE, {"model.hidden_units": [1000, 1000], "plots.boundary.resolution": 2000}).runs[0]
    terms = resources.estimate(cfg).terms
    params = (2 * 1000 + 1000) + (1000 * 1000 + 1000) + (1000 + 1)
    assert resources.parameters([1000, 1000]) == params
    assert terms["model.hidden_units"] == params * 4 * (8 + 2)  # Adam: two slots per weight
    assert terms["dataset.n_samples"] == 100 * (72 + 3 * 1000 * 4)
    assert terms["training.batch_size"] == 32 * 3 * 2000 * 4
    assert terms["plots.boundary.resolution"] == 2000**2 * 96 + 16384 * 3 * 1000 * 4
    assert terms["plots.snapshots"] == 21 * 1.5 * 2**20  # the lecture's film: 21 frames
    assert terms[""] == resources.RUN_OVERHEAD
    logistic = resources.estimate(load_experiment(LECTURE, {"model.hidden_units": []}).runs[0]).terms
    assert logistic["model.hidden_units"] == 3 * 4 * 10 and logistic["training.batch_size"] == 0


def test_the_largest_term_is_blamed() -> None:
    def blamed(*sets: str, available: int = 2 * 10**9) -> tuple | None:
        return resources.check(load_experiment(LECTURE, parse_sets(list(sets), "--set")).runs[0], available)

    assert blamed() is None  # the lecture fits in 2 GB (it needs 1.0 GB)
    assert blamed(available=10**9)[0] == ("plots", "boundary", "resolution")  # its grid is its largest term
    assert blamed("model.hidden_units=[20000,20000]")[0] == ("model", "hidden_units")
    assert blamed("dataset.n_samples=10000000")[0] == ("dataset", "n_samples")
    # 400,080,001 parameters × 4 bytes × 10 copies (Adam) = 16.0 GB, the rest of the run and TensorFlow 1.0 GB
    assert blamed("model.hidden_units=[20000,20000]", available=16 * 10**9) == (
        ("model", "hidden_units"),
        "a run needs about 17 GB, this machine has 16 GB available",
    )
    assert blamed("model.hidden_units=[2000,2000]", available=1_100_000_000)[1] == (
        "a run needs about 1.3 GB, this machine has 1.1 GB available"  # 1.2 GB + the film's 32 MB
    )


# ---------------------------------------------------------------- the preflight through the command line

HUGE = """\
name: huge
dataset: {kind: moons, n_samples: 100}
model:
  hidden_units: [200000, 200000]
training: {epochs: 2}
"""


def test_validate_and_run_refuse_a_net_that_cannot_fit_naming_the_line_and_field(
    write_config, tmp_path, capsys
) -> None:
    path = write_config(HUGE)
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        assert err.startswith(f"{path}:4: model.hidden_units: a run needs about 1.6 TB, this machine has ")
        assert err.endswith(" available")
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_blamed_value_is_found_where_it_came_from(write_config, capsys) -> None:
    path = write_config(HUGE.replace("[200000, 200000]", "[8, 8]"))
    assert main(["validate", str(path), "--set", "dataset.n_samples=2000000000"]) == 2
    assert capsys.readouterr().err.startswith(f"{path}: --set dataset.n_samples: a run needs about ")
    swept = path.read_text() + "sweep:\n  dataset.n_samples: [100, 2000000000]\n"
    path.write_text(swept)
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:7: sweep.dataset.n_samples[1]: a run needs about ")
    assert main(["validate", str(LECTURE)]) == 0  # what the lecture needs is there


def test_available_memory_honours_a_cgroup_limit(tmp_path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("2000000000\n")
    (v2 / "memory.current").write_text("1500000000\n")
    (v2 / "memory.stat").write_text("anon 1000000000\ninactive_file 300000000\n")
    assert resources._cgroup_headroom(v2) == 2_000_000_000 - 1_500_000_000 + 300_000_000
    assert resources.available_memory(v2) == 800_000_000  # this machine has more than that
    (v2 / "memory.max").write_text("max\n")
    assert resources._cgroup_headroom(v2) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    (v1 / "memory.usage_in_bytes").write_text("100\n")
    (v1 / "memory.stat").write_text("total_inactive_file 0\n")
    assert resources._cgroup_headroom(tmp_path / "v1") is None
    (v1 / "memory.limit_in_bytes").write_text("1000\n")
    assert resources._cgroup_headroom(tmp_path / "v1") == 900
    assert resources._cgroup_headroom(tmp_path / "nothing") is None


# ---------------------------------------------------------------- the workers' processes, together

TWO_RUNS = HUGE.replace("[200000, 200000]", "[8]") + "runs:\n  - name: a\n  - name: b\n"


def test_the_runs_training_at_once_are_counted_min_of_workers_and_runs(write_config) -> None:
    runs = load_experiment(write_config(TWO_RUNS)).runs
    one = resources.estimate(runs[0]).process_bytes
    room = one * 3 // 2  # one process fits, two do not
    assert resources.check(runs[0], room) is None
    assert resources.at_once(runs, 1, room) is None  # one process trains them one after another
    assert resources.at_once(runs[:1], 8, room) is None  # one run: one process, however many workers
    reason = resources.at_once(runs, 8, room)  # min(8, 2) = 2 processes
    assert reason == (
        f"2 runs at once need about {resources._size(2 * one)}, this machine has {resources._size(room)} available; "
        "use fewer"
    )
    assert resources.at_once(runs, 2, 2 * one) is None


def test_run_refuses_workers_whose_processes_cannot_fit_together(write_config, tmp_path, capsys, monkeypatch) -> None:
    path = write_config(TWO_RUNS)
    one = resources.estimate(load_experiment(path).runs[0]).process_bytes
    monkeypatch.setattr(resources, "available_memory", lambda *_: one * 3 // 2)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("--workers: 2 runs at once need about ") and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written
    with pytest.raises(ValueError, match=r"^workers: 2 runs at once need about "):
        regdemo_run(path, tmp_path / "out", workers=4)
    assert not (tmp_path / "out").exists()
