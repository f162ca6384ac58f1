"""Packs: the runs to do grouped by pack key and split across workers, and a run's numbers whatever its company
(alone, in a pack of two, in the whole sweep; one worker or two)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TINY
from regdemo.config.loading import load_experiment
from regdemo.runs import one_run
from regdemo.runs.packs import MAX_PACK, SPLIT_AT, pack_label, packs, stacked_bytes

SWEEP = (
    TINY.replace("epochs: 30", "epochs: 12")
    .replace("resolution: 24}}", "resolution: 12}, snapshots: 3}")
    .split("runs:")[0]
    + """\
sweep:
  model.regularizer.kind: [l1, l2]
  model.regularizer.lambda: [0.0, 0.01, 0.1]
  seed: [1, 2]
runs:
  - name: sgd
    training: {optimizer: sgd, learning_rate: 0.1}
  - name: adam
  - name: fit
    training: {engine: fit}
"""
)
PLENTY = 2**40  # bytes: memory never splits a pack here unless a test says so


@pytest.fixture
def runs(write_config):
    return load_experiment(write_config(SWEEP)).runs


def test_a_pack_holds_one_key_and_every_run_once_in_order(runs) -> None:
    planned = packs(runs, 1, PLENTY)
    assert sorted(cfg.name for pack in planned for cfg in pack) == sorted(cfg.name for cfg in runs)
    by_variant = [{cfg.variant for cfg in pack} for pack in planned]
    assert by_variant[:2] == [{"sgd"}, {"adam"}] and [len(p) for p in planned[:2]] == [12, 12]
    assert all(len(pack) == 1 and pack[0].variant == "fit" for pack in planned[2:])  # engine fit: never packed
    for pack in planned:
        order = [runs.index(cfg) for cfg in pack]
        assert order == sorted(order)


def test_packs_are_split_across_workers_evenly_and_by_memory(runs) -> None:
    adam = [cfg for cfg in runs if cfg.variant == "adam"]
    assert [len(p) for p in packs(adam, 2, PLENTY)] == [12]  # split in two, each pack would be under SPLIT_AT
    assert [len(p) for p in packs(adam * 2, 2, PLENTY)] == [12, 12]
    assert [len(p) for p in packs(adam * 4, 5, PLENTY)] == [10, 10, 10, 9, 9]
    assert [len(p) for p in packs(adam * 4, 100, PLENTY)] == [SPLIT_AT] * 6
    room_for_five = 5 * stacked_bytes(adam[0])
    assert [len(p) for p in packs(adam, 1, room_for_five)] == [4, 4, 4]  # ceil(12 / 5) packs, sized alike
    assert [len(p) for p in packs(adam * 5, 1, PLENTY)] == [30, 30]  # at most MAX_PACK, sized alike
    assert max(len(p) for p in packs(adam * 20, 1, PLENTY)) <= MAX_PACK
    assert [len(p) for p in packs(adam, 1, PLENTY, alone=True)] == [1] * 12  # TensorBoard's histograms


def test_a_pack_is_labelled_by_its_first_run(runs) -> None:
    assert pack_label(runs[:1]) == runs[0].name
    assert pack_label(runs[:3]) == f"{runs[0].name} (+2 packed)"


def _numbers(run_dir: Path) -> tuple[bytes, dict, bytes]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("timing")
    return (run_dir / "history.csv").read_bytes(), metrics, (run_dir / "plot_data.npz").read_bytes()


def test_a_runs_numbers_do_not_depend_on_its_company(runs, tmp_path) -> None:
    """The same run alone (a pack of one), second in a pack of two, and in the pack of its whole variant: the
    same history.csv bytes, metrics.json (timings aside) and plot data (its film included)."""
    adam = [cfg for cfg in runs if cfg.variant == "adam"]
    target = adam[3]
    assert one_run.execute_run(target, tmp_path / "alone") == "completed"
    assert list(one_run.execute_pack([adam[0], target], tmp_path / "two")) == ["completed"] * 2
    assert list(one_run.execute_pack(adam, tmp_path / "all")) == ["completed"] * 12
    alone = _numbers(tmp_path / "alone" / target.name)
    assert _numbers(tmp_path / "two" / target.name) == alone
    assert _numbers(tmp_path / "all" / target.name) == alone
    timing = json.loads((tmp_path / "all" / target.name / "metrics.json").read_text())["timing"]
    assert timing["pack_runs"] == 12
    assert timing["pack_train_seconds"] == pytest.approx(12 * timing["train_seconds"])


def test_a_lone_pack_trains_in_this_process_with_no_pool_whatever_the_workers(write_config, tmp_path, monkeypatch):
    """Three runs of one key with --workers 2: too few to split (SPLIT_AT), so one pack, trained here; a pool
    of workers would start a second TensorFlow for nothing."""
    from regdemo.cli import main
    from regdemo.runs.backends import local

    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for a lone pack")

    monkeypatch.setattr(local, "Workers", no_pool)
    assert main(["run", str(write_config(TINY)), "--out", str(tmp_path), "--quiet", "--workers", "2"]) == 0
    numbers = [json.loads(path.read_text()) for path in (tmp_path / "tiny").glob("*/metrics.json")]
    assert len(numbers) == 3 and {n["timing"]["pack_runs"] for n in numbers} == {3}
