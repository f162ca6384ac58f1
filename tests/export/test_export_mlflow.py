"""``regdemo export mlflow``: a tiny trained experiment exported into a real SQLite store and read back with MLflow's
own client (params, a metric's history, tags, artifacts); a second export adds nothing; failures are one line."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import TINY
from regdemo.cli import main
from regdemo.config.schema import dotted_fields
from regdemo.export import mlflow as export
from regdemo.results import rundir
from rundirs import SMALL, failed_run

mlflow = pytest.importorskip("mlflow", reason="pip install 'regdemo[mlflow]'")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, MlflowClient]:
    """The tiny experiment (none, l2, l1; 5 epochs) and a failed run, exported once into the default store."""
    root = tmp_path_factory.mktemp("mlflow")
    (root / "tiny.yaml").write_text(TINY, encoding="utf-8")
    args = ["run", str(root / "tiny.yaml"), "--out", str(root / "out"), "--quiet", "--workers", "1", "--no-report"]
    assert main([*args, *SMALL]) == 0
    exp = root / "out" / "tiny"
    failed_run(exp / "l1", exp / "broken", error="ValueError: it broke")
    assert main(["export", "mlflow", str(exp)]) == 0
    return exp, MlflowClient(tracking_uri=f"sqlite:///{root / 'out' / 'tiny.mlflow.db'}")


def _runs(client: MlflowClient) -> dict[str, object]:
    experiment = client.get_experiment_by_name("tiny")
    return {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}


def test_each_run_is_an_mlflow_run_with_its_config_history_tags_and_files(exported, tmp_path) -> None:
    exp, client = exported
    assert (exp.parent / "tiny.mlflow.db").is_file() and (exp.parent / "tiny.mlflow-artifacts").is_dir()
    runs = _runs(client)
    assert sorted(runs) == ["broken", "l1", "l2", "none"]
    l2 = runs["l2"]
    config = yaml.safe_load((exp / "l2" / "config.yaml").read_text())
    flat = dotted_fields(config)
    assert l2.data.params["model.regularizer.lambda"] == "0.01" and l2.data.params["model.hidden_units"] == "[16, 8]"
    assert l2.data.params["model.regularizer.kind"] == "l2" and l2.data.params["seed"] == "3"
    assert len(l2.data.params) == len(flat) and set(l2.data.params) == set(flat)
    history = rundir.read_history(exp / "l2")
    for name in ("val_data_loss", "accuracy", "penalty"):
        logged = client.get_metric_history(l2.info.run_id, name)
        assert [m.step for m in logged] == [1, 2, 3, 4, 5]
        assert [m.value for m in logged] == history[name].tolist()  # exactly history.csv's numbers
    metrics = json.loads((exp / "l2" / "metrics.json").read_text())
    assert l2.data.metrics["final_val_data_loss"] == metrics["final"]["val_data_loss"]
    assert l2.data.metrics["generalization_gap"] == metrics["generalization_gap"]
    assert l2.data.metrics["epochs_run"] == 5 and "train_seconds" in l2.data.metrics
    assert l2.data.tags["regdemo.status"] == "completed" and l2.data.tags["regdemo.variant"] == "l2"
    assert l2.data.tags["regdemo.version"] == metrics["versions"]["regdemo"]
    assert l2.data.tags["regdemo.config_hash"] == export.config_hash(rundir.read_config(exp / "l2"))
    assert l2.info.status == "FINISHED"
    files = {f.path for f in client.list_artifacts(l2.info.run_id)}
    assert files == {"config.yaml", "metrics.json", "history.csv", "boundary.png", "loss.png", "weights.png"}
    copy = client.download_artifacts(l2.info.run_id, "boundary.png", str(tmp_path))
    assert Path(copy).read_bytes() == (exp / "l2" / "boundary.png").read_bytes()
    broken = runs["broken"]
    assert broken.info.status == "FAILED" and broken.data.tags["regdemo.status"] == "failed"
    assert broken.data.metrics == {} and "error.txt" in {f.path for f in client.list_artifacts(broken.info.run_id)}


def test_a_second_export_adds_nothing(exported, capsys) -> None:
    exp, client = exported
    before = {name: run.info.run_id for name, run in _runs(client).items()}
    capsys.readouterr()
    assert main(["export", "mlflow", str(exp)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("exported 0 run(s) to MLflow experiment 'tiny'")
    assert {name: run.info.run_id for name, run in _runs(client).items()} == before


def test_an_interrupted_export_is_finished_by_the_next_and_a_changed_config_is_a_new_run(
    exported, tmp_path, monkeypatch
) -> None:
    exp, _ = exported
    monkeypatch.chdir(tmp_path)  # a tracking URI of our own: MLflow keeps its artifacts in ./mlruns
    folder = tmp_path / "tiny"
    shutil.copytree(exp, folder, ignore=shutil.ignore_patterns("model.keras"))
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    calls = []
    terminate = MlflowClient.set_terminated

    def interrupted(self, run_id, status=None, end_time=None):
        calls.append(run_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return terminate(self, run_id, status, end_time)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MlflowClient, "set_terminated", interrupted)
        with pytest.raises(KeyboardInterrupt):
            export.export_experiment(folder, uri)
    done = export.export_experiment(folder, uri)
    assert len(done.kept) == 1 and len(done.added) == 3  # the one left RUNNING is logged again
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["broken", "l1", "l2", "none"]  # the leftover deleted
    assert {r.info.status for r in runs} == {"FINISHED", "FAILED"}
    config = yaml.safe_load((folder / "l2" / "config.yaml").read_text())
    config["training"]["epochs"] = 6  # as if rerun with another config
    (folder / "l2" / "config.yaml").write_text(yaml.safe_dump(config))
    assert export.export_experiment(folder, uri).added == ["l2"]
    assert (tmp_path / "mlruns").is_dir()  # MLflow's default for a store whose artifact root we did not choose


def test_failures_are_one_line_and_exit_2(exported, tmp_path, monkeypatch, capsys) -> None:
    exp, _ = exported
    assert main(["export", "mlflow", str(tmp_path)]) == 2
    expected = f"{tmp_path}: not a regdemo experiment folder (no run folders with metrics.json)\n"
    assert capsys.readouterr().err == expected
    assert main(["export", "mlflow", str(exp), "--tracking-uri", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.startswith("--tracking-uri http://127.0.0.1:9: cannot connect")
    assert main(["export", "mlflow", str(exp), "--tracking-uri", "nosuch://x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nosuch://x: ") and err.count("\n") == 1
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    assert main(["export", "mlflow", str(exp)]) == 2
    assert capsys.readouterr().err == "needs mlflow: pip install 'regdemo[mlflow]'\n"


def test_a_linked_file_in_a_received_folder_is_not_uploaded(exported, tmp_path, monkeypatch) -> None:
    exp, _ = exported
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "tiny"
    shutil.copytree(exp, folder, ignore=shutil.ignore_patterns("model.keras"))
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nprivate")
    (folder / "l2" / "loss.png").unlink()
    (folder / "l2" / "loss.png").symlink_to(secret)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    export.export_experiment(folder, uri)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    l2 = next(run for run in runs if run.info.run_name == "l2")
    assert {f.path for f in client.list_artifacts(l2.info.run_id)} == {
        "config.yaml",
        "metrics.json",
        "history.csv",
        "boundary.png",
        "weights.png",
    }
