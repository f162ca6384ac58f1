"""Hostile and mistaken input: bounded config loading, OS and encoding errors as one line, the sweep
size, a full disk, plain error.txt, a quiet stderr, and a fuzzed `regdemo validate`."""

from __future__ import annotations

import copy
import errno
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY
from regdemo import cli
from regdemo.cli import main
from regdemo.config import loading as config
from regdemo.config.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES
from regdemo.errors import ConfigError
from regdemo.results import rundir
from regdemo.runs import one_run

QUICK = TINY.replace("epochs: 30", "epochs: 3").replace("resolution: 24", "resolution: 12")

# Nine lines, each ten aliases of the line before: 10**9 values once expanded, 100 nodes as written.
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def _one_line_error(capsys) -> str:
    """stderr of the command just run, checked to be exactly one line and no traceback."""
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err.rstrip("\n")


def _bounded(capsys, args: list[str]) -> tuple[int, str, float, int]:
    """Run the CLI in-process: (exit status, its one stderr line, seconds, peak bytes allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        status = main(args)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return status, _one_line_error(capsys), seconds, peak


# ---------------------------------------------------------------- config loading is bounded


def test_billion_laughs_is_refused_at_once_in_little_memory(write_config, capsys) -> None:
    path = write_config(BILLION_LAUGHS)
    status, err, seconds, peak = _bounded(capsys, ["validate", str(path)])
    # line 5 (e): the first node whose expansion passes the limit (10**4 x's and ~11,111 lists below it)
    assert status == 2 and err == f"{path}:5: holds more than {MAX_NODES:,} values once its aliases are expanded"
    assert seconds < 5 and peak < 200 * 2**20  # was 79 s and 8.9 GB (tracemalloc slows it, hence 5 s)


def test_an_expansion_just_under_the_limit_still_loads(write_config) -> None:
    # 6 levels: 1 + 10·(1 + 10·(…)) = 111,111 values without the top key's list: refused; 5 levels: fine
    text = "".join(line + "\n" for line in BILLION_LAUGHS.splitlines()[:5]) + "name: ok\n"
    with pytest.raises(ConfigError, match="holds more than"):
        config.load_experiment(write_config(text))
    text = "".join(line + "\n" for line in BILLION_LAUGHS.splitlines()[:4]) + "name: ok\n"
    with pytest.raises(ConfigError, match=r":1: a: unknown key"):  # loaded, then validated
        config.load_experiment(write_config(text))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: " + "[" * 20_000 + "]" * 20_000 + "\n", 1),  # flow style, one line
        ("".join(" " * i + f"k{i}:\n" for i in range(1_000)), MAX_DEPTH),  # block: the key whose value is too deep
        ("seed: 1\nx:\n" + "- " * 20_000 + "1\n", 3),
    ],
    ids=["flow", "block", "sequence"],
)
def test_deep_nesting_is_refused_at_once(write_config, capsys, text, line) -> None:
    path = write_config(text)
    status, err, seconds, peak = _bounded(capsys, ["validate", str(path)])
    assert status == 2 and err == f"{path}:{line}: nested more than {MAX_DEPTH} levels deep"
    assert seconds < 5 and peak < 200 * 2**20


def test_aliases_that_nest_deep_or_refer_to_themselves_are_refused(write_config) -> None:
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 60))
    with pytest.raises(ConfigError, match=rf":\d+: nested more than {MAX_DEPTH} levels deep once its aliases"):
        config.load_experiment(write_config(chain))
    with pytest.raises(ConfigError, match=r"exp.yaml:2: an alias refers to a node that contains it"):
        config.load_experiment(write_config("name: x\nseed: &s [1, *s]\n"))


def test_a_config_over_the_size_limit_is_refused_unread(write_config, capsys) -> None:
    path = write_config("name: big\n" + "# padding\n" * (MAX_BYTES // 10))
    assert main(["validate", str(path)]) == 2
    assert _one_line_error(capsys) == f"{path}: larger than {MAX_BYTES:,} bytes; a config is a few kB of settings"
    if Path("/dev/zero").exists():  # an endless file: read no further than the limit
        assert main(["validate", "/dev/zero"]) == 2
        assert _one_line_error(capsys).startswith("/dev/zero: larger than")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nseed: !!int zz\n", "2: YAML: cannot read tag:yaml.org,2002:int 'zz': invalid literal"),
        ("name: x\nseed: !!timestamp 2020-13-45\n", "2: YAML: cannot read tag:yaml.org,2002:timestamp"),
        ("name: x\nseed: !!python/object:os.system ls\n", "2: YAML: could not determine a constructor"),
        ("name: x\nseed: !!binary aGVsbG8gd29ybGQ=\n", "2: seed: must be an integer (got !!binary | aGVsbG8gd29ybGQ=)"),
        ("name: x\n[1, 2]: y\n", "2: (top level): keys must be names, not lists or mappings"),
        ("name: x\nseed: 1\x00\n", "2: YAML: character #x0000 is not allowed"),
        ("name: x\nseed: *nowhere\n", "2: YAML syntax: found undefined alias 'nowhere'"),
        ("name: x\na: &a 1\nb: &a 2\n", "3: YAML syntax: found duplicate anchor 'a'"),
        ("name: x\nseed: " + "9" * 5000 + "\n", "2: YAML: cannot read tag:yaml.org,2002:int '99999"),
        ("name: x\nseed: [" + "1, " * 5000 + "]\n", "2: seed: must be an integer (got [1, 1, 1, "),  # cut short
    ],
)
def test_tags_odd_keys_and_odd_characters_are_one_line_at_their_line(write_config, capsys, text, message) -> None:
    path = write_config(text)
    assert main(["validate", str(path)]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"{path}:{message}"), err
    assert len(err) < 400


def test_control_characters_in_a_key_are_shown_escaped_on_one_line(write_config, capsys) -> None:
    path = write_config('name: x\n"bad\\nkey\\e[31m": 1\n')
    assert main(["validate", str(path)]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"{path}:2: bad\\nkey\\x1b[31m: unknown key") and "\x1b" not in err, err


# ---------------------------------------------------------------- the number of runs, counted first

SWEEP_5x20 = "name: big\nsweep:\n" + "".join(
    f"  {field}: [{', '.join(str(v) for v in range(5, 25))}]\n"
    for field in ("seed", "training.epochs", "training.batch_size", "dataset.random_state", "dataset.n_samples")
)


def test_a_sweep_of_millions_of_runs_is_refused_before_expansion(write_config, capsys) -> None:
    path = write_config(SWEEP_5x20)
    status, err, seconds, peak = _bounded(capsys, ["validate", str(path)])
    assert status == 2 and err == (
        f"{path}:2: sweep: 3,200,000 runs (1 variant(s) × 20 × 20 × 20 × 20 × 20 sweep values), "
        "more than the limit of 100,000; --max-runs N raises it"
    )
    assert seconds < 5 and peak < 200 * 2**20  # was past 2 minutes and 6 GB


def test_max_runs_sets_the_limit_on_run_and_validate(write_config, tmp_path, capsys) -> None:
    path = write_config(TINY + "sweep:\n  seed: [1, 2, 3, 4]\n")  # 3 variants × 4 = 12 runs
    assert main(["validate", str(path), "--max-runs", "11"]) == 2
    assert _one_line_error(capsys) == (
        f"{path}:16: sweep: 12 runs (3 variant(s) × 4 sweep values), more than the limit of 11; --max-runs N raises it"
    )
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--max-runs", "11"]) == 2
    assert "12 runs" in _one_line_error(capsys) and not out.exists()
    assert main(["validate", str(path), "--max-runs", "12"]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "12 run(s) in experiment tiny"
    assert main(["run", str(path), "--dry-run", "--max-runs", "12"]) == 0
    capsys.readouterr()
    assert main(["validate", str(path), "--max-runs", "0"]) == 2
    assert _one_line_error(capsys) == "--max-runs: must be >= 1 (got 0)"
    assert cli.DEFAULT_MAX_RUNS == config.MAX_RUNS
    with pytest.raises(ConfigError, match=r":10: runs: 3 runs \(3 variants\), more than the limit of 2"):
        config.load_experiment(write_config(TINY), max_runs=2)


# ---------------------------------------------------------------- OS and encoding errors: one line naming the path


def test_a_config_that_is_not_utf8_is_named_with_its_line(tmp_path, capsys) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\n# réglage\n".encode("latin-1"))
    assert main(["validate", str(path)]) == 2
    assert _one_line_error(capsys) == f"{path}:2: not UTF-8 text (byte 0xe9 at column 4)"


def test_a_folder_given_as_the_config_and_a_missing_or_looping_one(tmp_path, capsys) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert _one_line_error(capsys) == f"{tmp_path}: cannot read: Is a directory"
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    assert main(["run", str(loop), "--out", str(tmp_path / "out")]) == 2
    assert _one_line_error(capsys) == f"{loop}: cannot read: Too many levels of symbolic links"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.yaml"]  # nothing written


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_config(write_config, capsys) -> None:
    path = write_config()
    path.chmod(0)
    assert main(["validate", str(path)]) == 2
    assert _one_line_error(capsys) == f"{path}: cannot read: Permission denied"


def test_out_naming_a_file_is_one_line_and_nothing_is_written(write_config, tmp_path, capsys) -> None:
    path = write_config(QUICK)
    blocker = tmp_path / "results.txt"
    blocker.write_text("keep me\n")
    for out in (blocker, blocker / "deeper"):
        assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
        assert _one_line_error(capsys) == f"{blocker}: is a file, where a folder is needed"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny").write_text("")  # the experiment's folder is a file
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 2
    assert _one_line_error(capsys) == f"{tmp_path / 'out' / 'tiny'}: is a file, where a folder is needed"
    assert blocker.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["exp.yaml", "out", "results.txt", "tiny"]


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a folder nobody may create in (Linux /sys)")
def test_an_output_that_cannot_be_written(write_config, capsys) -> None:
    # /sys refuses a new folder even to root (mode bits do not), with EPERM, EACCES or EROFS
    out = Path("/sys/regdemo-test-out")
    assert main(["run", str(write_config(QUICK)), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"{out}: ") and err.split(": ", 1)[1] in {
        "Operation not permitted",
        "Permission denied",
        "Read-only file system",
    }, err


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """One tiny run trained once, for the commands that read saved runs."""
    root = tmp_path_factory.mktemp("saved")
    (root / "one.yaml").write_text(QUICK.split("runs:")[0].replace("name: tiny", "name: one"), encoding="utf-8")
    assert main(["run", str(root / "one.yaml"), "--out", str(root / "out"), "--quiet", "--workers", "1"]) == 0
    return root / "out" / "one" / "one"


@pytest.mark.parametrize("name", ["config.yaml", "metrics.json", "history.csv"])
def test_compare_and_report_name_a_saved_file_that_is_not_utf8(saved_run, tmp_path, capsys, name) -> None:
    exp = tmp_path / "exp"
    shutil.copytree(saved_run.parent, exp)
    bad = exp / "one" / name
    bad.write_bytes(bad.read_bytes().replace(b"\n", b"\n\xff", 1))  # line 2 starts with a bad byte
    assert main(["compare", str(exp / "one"), "--out", str(tmp_path / "cmp")]) == 2
    assert _one_line_error(capsys) == f"{bad}:2: not UTF-8 text (byte 0xff)"
    assert not (tmp_path / "cmp").exists()
    before = sorted(p.name for p in exp.iterdir())
    assert main(["report", str(exp)]) == 2
    assert _one_line_error(capsys) == f"{bad}:2: not UTF-8 text (byte 0xff)"
    assert sorted(p.name for p in exp.iterdir()) == before  # no report.html


def test_compare_into_a_file_and_from_a_file(saved_run, tmp_path, capsys) -> None:
    blocker = tmp_path / "cmp.png"
    blocker.write_bytes(b"")
    assert main(["compare", str(saved_run), "--out", str(blocker)]) == 2
    assert _one_line_error(capsys) == f"{blocker}: exists and is not a folder"
    assert main(["compare", str(blocker), "--out", str(tmp_path / "cmp")]) == 2
    assert _one_line_error(capsys).startswith(f"{blocker}: not a regdemo run folder")


def _disk_fills_at(target: str, monkeypatch) -> None:
    """From now on, writing ``target`` (a rundir writer) fails as a full disk does: ENOSPC, no path."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rundir, target, full)


def test_a_full_disk_drops_the_run_being_written_and_stops_the_experiment(write_config, tmp_path, capsys, monkeypatch):
    path = write_config(QUICK)
    real_png = rundir.write_png
    writes = []

    def png_then_full(png: bytes, run_dir: Path, name: str) -> None:
        writes.append(name)
        if len(writes) > 3:  # the first run's three PNGs fit; the second run's first one does not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_png(png, run_dir, name)

    monkeypatch.setattr(rundir, "write_png", png_then_full)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    assert _one_line_error(capsys) == (
        f"{out / 'tiny'}: disk full (no space left on device); the run being written was dropped, "
        "completed runs are kept: free space and rerun to finish"
    )
    exp = out / "tiny"
    assert sorted(p.name for p in exp.iterdir()) == ["none", "summary.csv"]  # no failed l2 folder, no l1
    assert [row["run"] for row in rundir.read_summary(exp)] == ["none"]  # the finished run's row, whole
    assert json.loads((exp / "none" / "metrics.json").read_text())["status"] == "completed"
    assert not [p for p in out.rglob(".*")]  # nothing half-written left behind
    monkeypatch.setattr(rundir, "write_png", real_png)  # space freed: the rerun finishes the rest
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    assert sorted(p.name for p in exp.iterdir() if p.is_dir()) == ["l1", "l2", "none"]


def test_a_full_disk_when_writing_the_summary_names_the_output_folder(write_config, tmp_path, capsys, monkeypatch):
    _disk_fills_at("write_summary", monkeypatch)
    out = tmp_path / "out"
    path = write_config(QUICK.split("runs:")[0])
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    assert _one_line_error(capsys).startswith(f"{out}: disk full (no space left on device); ")
    assert not [p for p in out.rglob(".*")]


def test_a_full_disk_on_a_failed_runs_folder_is_the_disk_not_the_run(tmp_path) -> None:
    cfg = config.load_experiment(Path(__file__).parent.parent / "configs" / "lecture.yaml").runs[0]
    staging = tmp_path / "exp" / ".run.partial-1"
    wrapped = RuntimeError("Unable to synchronously create file (file write failed: No space left on device)")
    for error in (OSError(errno.EDQUOT, "Disk quota exceeded"), wrapped):
        with pytest.raises(OSError) as raised:
            rundir.write_failed(cfg, staging, error)
        assert raised.value.filename == str(tmp_path / "exp") and raised.value.errno in (errno.EDQUOT, errno.ENOSPC)
    assert not staging.exists()


# ---------------------------------------------------------------- error.txt and stderr


def _keras_error() -> Exception:
    """A real error from inside a Keras layer call, whose message Keras puts in bold for a terminal."""
    import keras
    import numpy as np

    layer = keras.layers.Lambda(lambda x: keras.ops.matmul(x, np.zeros((5, 5), dtype="float32")))
    try:
        layer(np.zeros((1, 4), dtype="float32"))
    except Exception as exc:  # whatever TensorFlow raises for a shape mismatch
        return exc
    raise AssertionError("a (1, 4) @ (5, 5) product did not fail")


def test_error_txt_and_the_error_message_are_plain_text(write_config, tmp_path, monkeypatch) -> None:
    error = _keras_error()
    assert "\x1b[1m" in str(error)  # what the issue found in error.txt
    monkeypatch.setattr(one_run, "compute_run", lambda cfg, *args: (_ for _ in ()).throw(error))
    exp = config.load_experiment(write_config(QUICK))
    assert one_run.execute_run(exp.runs[0], tmp_path) == "failed"
    text = (tmp_path / "none" / "error.txt").read_text(encoding="utf-8")
    message = json.loads((tmp_path / "none" / "metrics.json").read_text())["error"]
    for plain in (text, message):
        assert "\x1b" not in plain and "Exception encountered when calling Lambda.call()" in plain
    assert "Traceback (most recent call last)" in text and "Arguments received by Lambda.call()" in text
    assert rundir.plain_text("\x1b[1mbold\x1b[0m \x1b[31;1mred\x1b[m") == "bold red"


@pytest.mark.slow
def test_a_fit_engine_run_with_quiet_prints_nothing_on_stderr(write_config, tmp_path) -> None:
    """TensorFlow's native "E0000 ... NodeDef mentions attribute use_unbounded_threadpool" lines are gone."""
    path = write_config(QUICK.replace("engine: compiled", "engine: fit").split("runs:")[0])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # conftest sets it: not here
    cmd = [sys.executable, "-m", "regdemo", "run", str(path), "--out", str(tmp_path), "--quiet", "--workers", "1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    exp = tmp_path / "tiny"
    assert done.returncode == 0 and done.stdout == f"wrote {exp} (open {exp / 'report.html'})\n", done.stderr
    assert done.stderr == ""
    assert json.loads((tmp_path / "tiny" / "tiny" / "metrics.json").read_text())["epochs_run"] == 3


# ---------------------------------------------------------------- fuzzed: exit 0, or exit 2 and one line; nothing writt

BASE = yaml.safe_load(TINY + "sweep:\n  model.regularizer.lambda: [0.0, 0.01]\n")
FIELDS = [
    "seed",
    "dataset.kind",
    "dataset.n_samples",
    "dataset.noise",
    "dataset.validation_split",
    "model.hidden_units",
    "model.activation",
    "model.dropout",
    "model.regularizer.kind",
    "model.regularizer.lambda",
    "model.regularizer.l1",
    "model.regularizer.proximal",
    "training.epochs",
    "training.batch_size",
    "training.learning_rate",
    "training.engine",
    "training.early_stopping.patience",
    "plots.boundary.resolution",
    "plots.boundary.xlim",
    "plots.weights.layers",
]
# YAML a careless or hostile user may write where a value goes: tags, anchors and aliases, deep
# nesting, huge and non-finite numbers, escapes, and things PyYAML refuses.
SNIPPETS = [
    "!!python/object/apply:os.system [echo hi]",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!timestamp 2001-13-45",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "!!float abc",
    "!!int 0b102",
    "!!str 5",
    "!custom 1",
    "*undefined",
    "&anchor 5",
    "&x [1, *x]",
    "[" * 60 + "]" * 60,
    "{a: " * 60 + "1" + "}" * 60,
    str(10**400),
    "9" * 5000,
    "1e999",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "~",
    '"\\ud800"',
    '"\\e[31mred\\e[0m"',
    '"tab\\there\\nnewline"',
    "'λ ✓ 🙂'",
    "[1, 2",
    "{a: 1, a: 2}",
    "? [a, b]\n  : c",
    "|\n  multi\n  line",
]
LAUGHS = "l0: &l0 [x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 8)}]\n" for i in (1, 2, 3, 4, 5, 6)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["l1", "l2", "l1_l2", "none", "moons", "spiral", "adam", "fit", "relu", "val_loss", "all"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
keys = st.one_of(
    st.sampled_from([*FIELDS, "name", "runs", "sweep", "experiment", "variant", "a..b", ""]), st.text(max_size=12)
)


def _paths(data, prefix=()) -> list[tuple]:
    """Every key path into ``data``'s mappings and lists."""
    found = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _mutated(draw) -> bytes:
    """The tiny config with a few random edits: to its data (keys dropped, renamed, added; values of
    the wrong type or range), then to its text (hostile YAML put in for a value, appended, or a byte
    that is not UTF-8)."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(data)))
        parent = functools.reduce(lambda node, key: node[key], path[:-1], data)
        op = draw(st.sampled_from(["drop", "rename", "add", "replace"]))
        if op == "drop":
            del parent[path[-1]]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(path[-1])
        elif op == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    lines = text.splitlines()
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):  # most examples get past the YAML to the schema
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        how = draw(st.sampled_from(["value", "value", "append", "append", "laughs"]))
        if how == "value" and lines and ":" in lines[i]:
            lines[i] = lines[i].split(":", 1)[0] + ": " + draw(st.sampled_from(SNIPPETS))
        elif how == "append":
            lines.append(f"{draw(keys)!r}: {draw(st.sampled_from(SNIPPETS))}")
        elif how == "laughs":
            lines.extend(LAUGHS.splitlines())
    raw = "\n".join(lines).encode("utf-8")
    if draw(st.sampled_from(range(10))) == 7:  # one in ten: a byte that is not UTF-8 (or NUL)
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"])) + raw[at:]
    return raw


set_values = st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=20), st.integers().map(str), st.floats().map(repr))
set_strings = st.one_of(st.builds(lambda key, value: f"{key}={value}", keys, set_values), st.text(max_size=30))


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_configs_and_sets_exit_0_or_one_line_and_write_nothing(capsys, data) -> None:
    raw = _mutated(data.draw)
    sets = data.draw(st.lists(set_strings, max_size=3))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(raw)
        command = data.draw(st.sampled_from([["validate"], ["run", "--dry-run", "--out", str(Path(tmp) / "out")]]))
        capsys.readouterr()
        status = main([command[0], str(path), *command[1:], *(f"--set={s}" for s in sets)])
        captured = capsys.readouterr()
        assert status in (0, 2)
        if status == 2:
            assert captured.err.count("\n") == 1 and "Traceback" not in captured.err and not captured.out, captured
            assert captured.err.startswith((str(path), "--")), captured.err  # names the file (or the option)
        else:
            assert captured.err == "" and captured.out.endswith(f"{path}: ok\n" if command[0] == "validate" else "\n")
        assert [p.name for p in Path(tmp).iterdir()] == ["fuzz.yaml"]  # nothing written
