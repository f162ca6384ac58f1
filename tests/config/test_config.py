"""Config: schema, deep merge, --set, --smoke, and one-line errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, TINY
from regdemo.cli import main
from regdemo.config.loading import SMOKE_EPOCHS, SMOKE_RESOLUTION, load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.errors import ConfigError


def test_lecture_config_resolves_each_variant_over_the_shared_settings() -> None:
    exp = load_experiment(REPO / "configs" / "lecture.yaml")
    assert exp.name == "lecture"
    assert [r.name for r in exp.runs] == ["no_reg", "l2", "l1"]
    kinds = [(r.model.regularizer.kind, r.model.regularizer.strengths()) for r in exp.runs]
    assert kinds == [("none", (0.0, 0.0)), ("l2", (0.0, 0.001)), ("l1", (0.001, 0.0))]
    for run in exp.runs:  # the shared keys survive the merge untouched
        assert run.model.hidden_units == [128, 128]
        assert run.training.epochs == 2000 and run.training.learning_rate == 0.01
        assert run.dataset.n_samples == 100 and run.dataset.noise == 0.25 and run.seed == 2
        assert run.plots.boundary.resolution == 300


def test_set_overrides_every_run_and_is_read_as_yaml(write_config) -> None:
    path = write_config()
    exp = load_experiment(
        path, parse_sets(["training.epochs=7", "model.hidden_units=[4, 4, 4]", "model.regularizer.lambda=1e-3"], "x")
    )
    assert {r.training.epochs for r in exp.runs} == {7}
    assert {tuple(r.model.hidden_units) for r in exp.runs} == {(4, 4, 4)}
    # --set wins over the run's own variant keys too
    assert [r.model.regularizer.lambda_ for r in exp.runs] == [0.001, 0.001, 0.001]


def test_smoke_shrinks_epochs_and_grid_only(write_config) -> None:
    path = write_config(TINY.replace("epochs: 30", "epochs: 500").replace("resolution: 24", "resolution: 200"))
    full, smoke = load_experiment(path), load_experiment(path, smoke=True)
    for a, b in zip(full.runs, smoke.runs, strict=True):
        assert b.training.epochs == SMOKE_EPOCHS and b.plots.boundary.resolution == SMOKE_RESOLUTION
        da, db = a.to_dict(), b.to_dict()
        da["training"].pop("epochs"), db["training"].pop("epochs")
        da["plots"]["boundary"].pop("resolution"), db["plots"]["boundary"].pop("resolution")
        assert da == db


def test_yaml_1_2_floats_and_l1_l2(write_config) -> None:
    text = TINY.replace("{kind: l1, lambda: 0.01}", "{kind: l1_l2, l1: 1e-4, l2: 2.5E-3}")
    run = load_experiment(write_config(text)).runs[2]
    assert run.model.regularizer.strengths() == (1e-4, 2.5e-3)


# (replace this, with this) → the error's line number and its text after "file:LINE: "
BAD = [
    (
        "{kind: l2, lambda: 0.01}",
        "{kind: l2, lambda: -0.1}",
        13,
        "runs[1].model.regularizer.lambda: must be >= 0.0 (got -0.1)",
    ),
    ("{kind: none, lambda: 0.0}", "{kind: none, lambda: -1}", 7, "model.regularizer.lambda: must be >= 0.0 (got -1)"),
    ("{kind: l1, lambda: 0.01}", "{kind: l1, lambda: .inf}", 15, "runs[2].model.regularizer.lambda: must be finite"),
    (
        "{kind: l1, lambda: 0.01}",
        "{kind: l1, lambda: '0.1'}",
        15,
        "runs[2].model.regularizer.lambda: must be a number (got '0.1')",
    ),
    (
        "{kind: l1, lambda: 0.01}",
        "{kind: lasso, lambda: 0.01}",
        15,
        "runs[2].model.regularizer.kind: must be one of none, l1, l2 or l1_l2 (got 'lasso')",
    ),
    (
        "{kind: l1, lambda: 0.01}",
        "{kind: l1_l2, l1: 0.01}",
        15,
        "runs[2].model.regularizer.l2: required when kind is l1_l2",
    ),
    ("activation: relu", "activaton: relu", 6, "model.activaton: unknown key; did you mean 'activation'?"),
    (
        "  - name: l1\n",
        "  - name: l1\n    trainig: {epochs: 3}\n",
        15,
        "runs[2].trainig: unknown key; did you mean 'training'?",
    ),
    ("validation_split: 0.25", "validation_split: 1.0", 3, "dataset.validation_split: must be < 1.0 (got 1.0)"),
    (
        "validation_split: 0.25",
        "validation_split: 0.99",
        3,
        "dataset.validation_split: leaves 0 training and 60 validation rows of 60",
    ),
    ("epochs: 30", "epochs: 0", 8, "training.epochs: must be >= 1 (got 0)"),
    ("epochs: 30", "epochs: 2.5", 8, "training.epochs: must be an integer (got 2.5)"),
    ("batch_size: 16", "batch_size: 0", 8, "training.batch_size: must be >= 1 (got 0)"),
    ("hidden_units: [16, 8]", "hidden_units: [16, 0]", 5, "model.hidden_units[1]: must be >= 1 (got 0)"),
    ("  - name: l1\n", "  - name: l2\n", 14, "runs[2].name: duplicate run name (got 'l2')"),
    (
        "  - name: l1\n",
        "  - name: l1/evil\n",
        14,
        "runs[2].name: must be made of letters, digits, '.', '_' and '-', not starting with '.' (got 'l1/evil')",
    ),
    (
        "  - name: l1\n",
        "  - name: [l1]\n",
        14,
        "runs[2].name: must be made of letters, digits, '.', '_' and '-', not starting with '.' (got [l1])",
    ),
    *[
        (
            "  - name: l1\n",
            f"  - name: '{name}'\n",
            14,
            f"runs[2].name: must be made of letters, digits, '.', '_' and '-', not starting with '.' (got '{name}')",
        )
        for name in ("..", ".", ".hidden")
    ],
    ("seed: 3\n", "seed: 3\nseed: 4\n", 3, "seed: duplicate key"),
    ("xlim: [-2, 3]", "xlim: [3, -2]", 9, "plots.boundary.xlim: must be [low, high] with low < high (got [3, -2])"),
    ("runs:\n", "runs: [\n", 11, "YAML syntax:"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD, ids=[b[3].split(":")[0] for b in BAD])
def test_bad_config_is_one_line_naming_file_line_and_field(write_config, tmp_path, capsys, old, new, line, message):
    assert old in TINY
    path = write_config(TINY.replace(old, new, 1))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"{path}:{line}: {message}"), err
    assert not out.exists()  # nothing written


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("training.epochs=-5", "--set training.epochs: must be >= 1 (got -5)"),
        ("model.regularizr.lambda=1", "--set model.regularizr: unknown key; did you mean 'regularizer'?"),
        ("training.epochs", "--set training.epochs: expected key.path=value"),
        ("runs=[]", "--set runs: cannot be overridden"),
    ],
)
def test_bad_set_is_reported_like_the_file(write_config, capsys, assignment, message) -> None:
    path = write_config()
    assert main(["validate", str(path), "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: {message}") and err.count("\n") == 1, err


def test_a_set_or_sweep_is_not_blamed_for_a_sibling_fields_error(write_config, capsys) -> None:
    path = write_config(
        TINY.replace("hidden_units: [16, 8]", "hidden_units: [16, 0]") + "sweep:\n  model.dropout: [0.1]\n"
    )
    assert main(["validate", str(path), "--set", "model.activation=tanh"]) == 2
    err = capsys.readouterr().err
    assert err == f"{path}:5: model.hidden_units[1]: must be >= 1 (got 0)\n", err


def test_validate_accepts_a_good_config_and_lists_runs(write_config, capsys) -> None:
    path = write_config()
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["none", "l2", "l1", "3 run(s) in experiment tiny", f"{path}: ok"]


def test_missing_file_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'nope.yaml'}: cannot read")


def test_config_error_is_an_exception_for_library_users(write_config) -> None:
    with pytest.raises(ConfigError, match=r"exp.yaml:8: training.epochs: must be >= 1"):
        load_experiment(write_config(TINY.replace("epochs: 30", "epochs: 0")))


SWEPT = (
    TINY
    + """\
sweep:
  model.regularizer.kind: [l1, l2]
  model.regularizer.lambda: [0.0, 1e-4, 0.01]
"""
)


def test_sweep_is_every_variant_times_every_grid_point_with_readable_names(write_config) -> None:
    exp = load_experiment(write_config(SWEPT))
    assert len(exp.runs) == 3 * 2 * 3
    first = exp.runs[0]
    assert first.name == "none__kind-l1__lambda-0" and first.variant == "none"
    assert first.sweep == {"model.regularizer.kind": "l1", "model.regularizer.lambda": 0.0}
    assert [r.name for r in exp.runs[:6]] == [
        "none__kind-l1__lambda-0",
        "none__kind-l1__lambda-0.0001",
        "none__kind-l1__lambda-0.01",
        "none__kind-l2__lambda-0",
        "none__kind-l2__lambda-0.0001",
        "none__kind-l2__lambda-0.01",
    ]
    # the sweep wins over the variant's own regularizer; the variant's other keys stay
    l2_variant = [r for r in exp.runs if r.variant == "l2"]
    assert [r.model.regularizer.kind for r in l2_variant] == ["l1"] * 3 + ["l2"] * 3
    assert {r.model.regularizer.lambda_ for r in l2_variant} == {0.0, 1e-4, 0.01}


def test_single_variant_sweep_names_have_no_prefix_and_lists_read_well(write_config) -> None:
    text = TINY.split("runs:")[0] + "sweep:\n  model.hidden_units: [[4], [8, 8]]\n  seed: [1, 2]\n"
    names = [r.name for r in load_experiment(write_config(text)).runs]
    assert names == [
        "hidden_units-4__seed-1",
        "hidden_units-4__seed-2",
        "hidden_units-8x8__seed-1",
        "hidden_units-8x8__seed-2",
    ]


@pytest.mark.parametrize(
    ("sweep", "line", "message"),
    [
        (
            "  model.regularizer.lambda: [0.1, -1.0]\n",
            17,
            "sweep.model.regularizer.lambda[1]: must be >= 0.0 (got -1.0)",
        ),
        (
            "  model.regulariser.lambda: [0.1]\n",
            17,
            "sweep.model.regulariser.lambda[0]: unknown key; did you mean 'regularizer'?",
        ),
        ("  seed: 3\n", 17, "sweep.seed: must be a non-empty list (got 3)"),
        ("  name: [a, b]\n", 17, "sweep.name: not a field that can be swept"),
        ("  model.regularizer.lambda: [0.1, 0.10]\n", 16, "sweep: two runs would share the name"),
        ("  training.epochs:\n    - 5\n    - 0\n", 19, "sweep.training.epochs[1]: must be >= 1 (got 0)"),
    ],
)
def test_bad_sweep_is_reported_at_its_line(write_config, capsys, sweep, line, message) -> None:
    path = write_config(TINY + "sweep:\n" + sweep)
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:{line}: {message}") and err.count("\n") == 1, err


def test_dry_run_lists_the_runs_and_writes_nothing(write_config, tmp_path, capsys) -> None:
    path = write_config(SWEPT)
    assert main(["run", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "none__kind-l1__lambda-0    (model.regularizer.kind=l1, model.regularizer.lambda=0.0)"
    assert out[-1] == "18 run(s) in experiment tiny"
    assert not (tmp_path / "out").exists()
