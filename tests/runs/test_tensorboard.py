"""--tensorboard's HParams data, read back with TensorBoard's own reader (EventAccumulator) and the HParams
plugin's parsers: the experiment summary (varying fields with their domains, summary.csv's result columns as
metrics) and each run's session (hparams, its numbers as scalars, session end)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.util import tensor_util

from conftest import TINY
from regdemo.cli import main
from regdemo.config.loading import load_experiment
from regdemo.runs import tensorboard

SWEEP = TINY.replace("epochs: 30", "epochs: 4").replace("resolution: 24", "resolution: 12").split("runs:")[0] + (
    "sweep:\n  model.regularizer.kind: [l1, l2]\n  model.regularizer.lambda: [0.0, 0.01]\n"
)


def _hparams_content(folder: Path) -> tuple[EventAccumulator, dict[str, bytes]]:
    events = EventAccumulator(str(folder), size_guidance={TENSORS: 0})
    events.Reload()
    return events, events.PluginTagToContent(metadata.PLUGIN_NAME)


def _value(proto) -> object:
    return getattr(proto, proto.WhichOneof("kind"))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hparams")
    (root / "sweep.yaml").write_text(SWEEP, encoding="utf-8")
    args = ["run", str(root / "sweep.yaml"), "--out", str(root), "--quiet", "--workers", "1", "--no-report"]
    assert main([*args, "--tensorboard"]) == 0
    return root / "tiny"


def test_the_experiment_summary_has_the_swept_fields_and_the_summary_columns(sweep) -> None:
    _, content = _hparams_content(sweep / "tensorboard")
    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    infos = {info.name: info for info in experiment.hparam_infos}
    assert list(infos) == ["model.regularizer.kind", "model.regularizer.lambda"]  # nothing else varies
    kind, lam = infos.values()
    assert kind.type == api_pb2.DATA_TYPE_STRING and [_value(v) for v in kind.domain_discrete.values] == ["l1", "l2"]
    assert lam.type == api_pb2.DATA_TYPE_FLOAT64 and [_value(v) for v in lam.domain_discrete.values] == [0.0, 0.01]
    with (sweep / "summary.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    numeric = [c for c in tensorboard.result_columns({}) if any(row[c] not in ("", "nan") for row in rows)]
    assert [m.name.tag for m in experiment.metric_infos] == numeric and "val_accuracy" in numeric
    assert all(m.name.group == "" for m in experiment.metric_infos)  # each in its session's own folder


def test_each_run_is_a_session_with_its_hparams_and_numbers(sweep) -> None:
    for run_dir in sorted(p for p in sweep.iterdir() if (p / "metrics.json").is_file()):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        events, content = _hparams_content(run_dir / "tensorboard")
        start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        assert start.group_name == run_dir.name
        hparams = {name: _value(value) for name, value in start.hparams.items()}
        assert hparams["model.regularizer.kind"] == metrics["sweep"]["model.regularizer.kind"]
        assert hparams["model.regularizer.lambda"] == metrics["sweep"]["model.regularizer.lambda"]
        assert hparams["model.hidden_units"] == "[16, 8]" and hparams["seed"] == 3 and hparams["variant"] == "tiny"
        end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
        assert end.status == api_pb2.STATUS_SUCCESS
        for tag, expected in (("val_accuracy", metrics["final"]["val_accuracy"]), ("generalization_gap", None)):
            [scalar] = events.Tensors(tag)
            assert scalar.step == metrics["epochs_run"] == 4
            want = metrics[tag] if expected is None else expected
            assert float(tensor_util.make_ndarray(scalar.tensor_proto)) == pytest.approx(want, rel=1e-6)  # float32


def test_writing_the_experiment_summary_loads_no_tensorflow(sweep, tmp_path) -> None:
    import subprocess

    code = (
        "import sys; from pathlib import Path; from regdemo.config.loading import load_experiment; "
        "from regdemo.runs.tensorboard import write_experiment; "
        f"write_experiment(Path({str(sweep)!r}), load_experiment({str(sweep.parent / 'sweep.yaml')!r}).runs); "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout == "False\n", done.stderr
    assert len(list((sweep / "tensorboard").iterdir())) == 1  # replaced whole, not added to


def test_domains_discrete_for_few_values_an_interval_for_many(write_config) -> None:
    from tensorboard.plugins.hparams import summary_v2 as hp

    assert tensorboard.domain(["l2", "l1"]).values == ["l1", "l2"]
    assert tensorboard.domain([True, False]).dtype is bool
    mixed = tensorboard.domain([0, 0.001, 0.01])  # YAML's 0 and 0.001 alike: numbers as floats
    assert mixed.dtype is float and mixed.values == [0.0, 0.001, 0.01]
    many = tensorboard.domain([10.0**-k for k in range(13)])
    assert isinstance(many, hp.RealInterval) and (many.min_value, many.max_value) == (1e-12, 1.0)
    assert isinstance(tensorboard.domain(list(range(20))), hp.IntInterval)
    runs = load_experiment(write_config(SWEEP)).runs
    assert list(tensorboard.varying(runs)) == ["model.regularizer.kind", "model.regularizer.lambda"]
    same = [run.model_copy(update={"name": name}) for run, name in ((runs[0], "a"), (runs[0], "b"))]
    assert tensorboard.varying(same) == {}  # nothing varies: no hparam (names are no hparams)
    assert tensorboard._same(0) == tensorboard._same(0.0) != tensorboard._same(False)
