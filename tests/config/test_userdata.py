"""A user's own points (dataset kind csv): the file read within bounds with one-line errors naming the row and
column, its hash recorded in the run's config, and resume and diff noticing when the data changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from regdemo.config import userdata
from regdemo.config.loading import load_experiment
from regdemo.errors import ConfigError, RunConflict
from regdemo.results import rundir
from regdemo.results.diff import config_changes
from regdemo.train.datasets import make_dataset

POINTS = "x1,x2,y\n0.0,0.1,0\n1.0,1.1,1\n2.0,2.1,0\n3.0,3.1,1\n4.0,4.1,0\n5.0,5.1,1\n6.0,6.1,0\n7.0,7.1,1\n"


def _config(tmp_path: Path, data: str = POINTS, extra: str = "", name: str = "points.csv") -> Path:
    (tmp_path / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    config = tmp_path / "exp.yaml"
    config.write_text(
        "name: mine\n"
        f"dataset: {{kind: csv, path: {name}, columns: [x1, x2], label: y, validation_split: 0.25{extra}}}\n"
        "model: {hidden_units: [4]}\n"
        "training: {epochs: 2, batch_size: 4}\n"
        "plots: {boundary: {resolution: 8}}\n",
        encoding="utf-8",
    )
    return config


def test_the_loader_resolves_the_file_counts_its_rows_and_records_its_hash(tmp_path: Path) -> None:
    run = load_experiment(_config(tmp_path)).runs[0]
    assert run.dataset.path == str((tmp_path / "points.csv").resolve())  # relative to the config's folder
    assert run.dataset.n_samples == 8
    assert run.dataset.sha256 == hashlib.sha256(POINTS.encode()).hexdigest()
    x, y = make_dataset(run.dataset)
    table = np.loadtxt(tmp_path / "points.csv", delimiter=",", skiprows=1)
    order = np.random.RandomState(run.dataset.random_state).permutation(8)  # shuffled by random_state
    np.testing.assert_array_equal(x, table[order, :2].astype(np.float32))
    np.testing.assert_array_equal(y, table[order, 2].astype(np.float32))


def test_columns_are_found_by_header_name_in_any_order_and_a_bom_is_allowed(tmp_path: Path) -> None:
    text = "\ufefflabel,b,a\n1,2.5,-1\n0,3.5,-2\n1,1,1\n0,2,2\n"
    points = userdata.parse(text.encode("utf-8"), tmp_path / "f.csv", ["a", "b"], "label")
    np.testing.assert_array_equal(points.x, [[-1, 2.5], [-2, 3.5], [1, 1], [2, 2]])
    np.testing.assert_array_equal(points.y, [1, 0, 1, 0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("x1,x2,y\n0,1,0\n1,abc,1\n", "points.csv:3: column x2: not a finite number (got 'abc')"),
        ("x1,x2,y\n0,1,0\n1,nan,1\n", "points.csv:3: column x2: not a finite number (got 'nan')"),
        ("x1,x2,y\n0,1,0\n\n1,2,2\n", "points.csv:4: column y: a label must be 0 or 1 (got '2')"),
        ("x1,x2,y\n0,1,0\n1,2\n", "points.csv:3: 2 cells, the header has 3"),
        ("x1,z,y\n0,1,0\n", "points.csv:1: header: no column 'x2' (the header has x1, z, y)"),
        ("x1,x1,x2,y\n0,1,0,1\n", "points.csv:1: header: column 'x1' appears twice"),
        ("", "points.csv:1: empty file; the first row must name the columns"),
        (b"x1,x2,y\n0,1,0\n\xff,1,1\n", "points.csv:3: not UTF-8 text (byte 0xff)"),
    ],
)
def test_a_bad_file_is_one_line_naming_its_row_and_column(tmp_path: Path, data: str | bytes, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(_config(tmp_path, data))
    assert str(err.value) == f"{tmp_path / 'points.csv'}{message.removeprefix('points.csv')}"


def test_the_file_is_bounded_in_bytes_and_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(userdata, "MAX_BYTES", 50)
    with pytest.raises(ConfigError, match=r"points.csv: larger than 50 bytes"):
        load_experiment(_config(tmp_path))
    monkeypatch.setattr(userdata, "MAX_BYTES", 10_000)
    monkeypatch.setattr(userdata, "MAX_ROWS", 5)
    with pytest.raises(ConfigError, match=r"points.csv:7: more than 5 rows"):
        load_experiment(_config(tmp_path))


def test_config_mistakes_point_at_the_config_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (tmp_path / "points.csv").unlink()
    with pytest.raises(ConfigError) as err:
        load_experiment(config)
    assert str(err.value).startswith(f"{config}:2: dataset.path: cannot read: No such file or directory (")
    with pytest.raises(ConfigError) as err:
        load_experiment(_config(tmp_path, extra=", n_samples: 8"))
    assert str(err.value) == f"{config}:2: dataset.n_samples: set by the file for kind csv: leave it out (got 8)"
    with pytest.raises(ConfigError, match=r"dataset.sha256: not the file's: .* has SHA-256 [0-9a-f]{64}"):
        load_experiment(_config(tmp_path, extra=", sha256: " + "0" * 64))
    pinned = hashlib.sha256(POINTS.encode()).hexdigest()
    assert load_experiment(_config(tmp_path, extra=f", sha256: {pinned}")).runs[0].dataset.sha256 == pinned
    config.write_text("name: x\ndataset: {kind: csv, path: p.csv, label: y}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"exp.yaml:2: dataset.columns: required when kind is csv"):
        load_experiment(config)
    config.write_text("name: x\ndataset: {kind: moons, label: y}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"exp.yaml:2: dataset.label: only used when kind is csv; kind is moons"):
        load_experiment(config)


def test_a_changed_file_is_noticed_by_training_resume_and_diff(tmp_path: Path) -> None:
    from regdemo.runs.one_run import execute_run
    from regdemo.runs.runner import plan

    config = _config(tmp_path)
    before = load_experiment(config)
    out = tmp_path / "out" / "mine"
    out.mkdir(parents=True)
    assert execute_run(before.runs[0], out) == "completed"
    old_text = rundir.read_text(out / before.runs[0].name, rundir.CONFIG)
    assert f"sha256: {before.runs[0].dataset.sha256}" in old_text
    (tmp_path / "points.csv").write_text(POINTS.replace("7.1,1", "7.2,1"), encoding="utf-8")
    with pytest.raises(ValueError, match="changed since the config was loaded"):  # the old config, the new data
        make_dataset(before.runs[0].dataset)
    after = load_experiment(config)
    with pytest.raises(RunConflict, match="holds a run with a different config"):
        plan(after, out, force=False)
    import yaml

    new_text = yaml.safe_dump(after.runs[0].to_dict(), sort_keys=False)
    changed = {c.field for c in config_changes("mine", old_text, new_text)}
    assert changed == {"dataset.sha256"}
