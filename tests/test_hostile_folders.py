"""A received experiment folder, mutated at random, read by every command that reads folders.

A real two-run experiment is trained once; each example copies it, makes one to three hostile edits
(files truncated, replaced by links or folders, JSON values of the wrong type, huge or deeply nested
values, binary garbage, names with dots, newlines and escape sequences, an npz declaring a huge
array or holding a pickle, a config with an alias bomb) and runs one of ``report``, ``compare``, ``diff``, ``check`` or
``regdemo.load``. The command must exit 0, 1, 2 or 3 (2 with exactly one stderr line, never a
traceback), stay within bounded memory and time, leave everything beside the experiment unchanged
(a listing with hashes of its parent folder, before and after), and never put the private file a
link points to into a page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import re
import resource
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import regdemo
from regdemo.cli import main
from regdemo.errors import ConfigError, RunFolderError

EXPERIMENT = """\
name: got
seed: 3
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], regularizer: {kind: none, lambda: 0.0}}
training: {epochs: 5, batch_size: 16}
plots: {boundary: {resolution: 12}, snapshots: 3}
runs:
  - name: none
  - name: l2
    model: {regularizer: {kind: l2, lambda: 0.01}}
checks:
  - name: l2_has_a_penalty
    claim: With L2 the kernels have weight
    metric: kernels_l2
    runs: {variant: l2}
    above: 0
"""
# A private file beside the experiment that a planted link points to: a PNG, so only the link rule keeps it out.
SECRET = b"\x89PNG\r\n\x1a\n" + b"PRIVATE-8d0c1f-" * 64
NAMES = ["..", ".", "../none", ".hidden", "a\nb", "x\x1b[2J\x9b31m", "=cmd|' /C calc'!A0", "l2\n## within", "é" * 100]
TEXTS = [*NAMES, "", "\x00", "<script>alert(1)</script>", "x" * 300_000, "[" * 5000 + "]" * 5000]
LAUGHS = "".join(f"l{i + 1}: &l{i + 1} [{', '.join([f'*l{i}'] * 9)}]\n" for i in range(8))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(TEXTS),
        st.text(max_size=10),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
MUTATIONS = ["truncate", "garbage", "link", "link_dir", "folder", "delete", "retype", "cell", "yaml", "npz", "rename"]
MAX_GROWTH_KB = 600_000  # peak resident memory an example may add (ru_maxrss is in kB on Linux)
MAX_SECONDS = 30


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The experiment trained once (with its report and checks)."""
    root = tmp_path_factory.mktemp("pristine")
    (root / "got.yaml").write_text(EXPERIMENT, encoding="utf-8")
    assert main(["run", str(root / "got.yaml"), "--out", str(root), "--quiet"]) == 0
    return root / "got"


def _listing(folder: Path, skip: Path) -> dict[str, tuple[str, str]]:
    """Every path under ``folder`` but ``skip``'s: (kind, sha256 of a file or a link's target text)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        if path.is_symlink():
            found[str(path)] = ("link", os.readlink(path))
        elif path.is_file():
            found[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            found[str(path)] = ("dir", "")
    return found


def _entries(exp: Path) -> list[Path]:
    """The experiment's files and folders (not the experiment itself), in a stable order."""
    return sorted(exp.rglob("*"))


def _huge_npz() -> bytes:
    """An npz whose one array declares 370000 x 370000 float64 (a terabyte) in a few hundred bytes."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (370000, 370000), }"
    npy = b"\x93NUMPY\x01\x00" + len(header.ljust(118) + "\n").to_bytes(2, "little") + header.ljust(118).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as saved:
        saved.writestr("grid_prob.npy", npy + b"\n" + b"\x00" * 64)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    """An npz of 20 MB of zeros in about 20 kB, declaring its true size (what the total-size bound stops)."""
    buffer = io.BytesIO()
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2500000,), }".ljust(118) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(20_000_000)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as saved:
        saved.writestr("grid_prob.npy", npy)
    return buffer.getvalue()


# Where a pickle planted in an npz would leave its mark if anything loaded it.
PICKLE_RAN = Path(tempfile.gettempdir()) / f"regdemo-pickle-ran-{os.getpid()}"


class _Planted:
    """An object whose unpickling creates PICKLE_RAN: what a hostile pickle would do instead."""

    def __reduce__(self):
        return (os.mkdir, (str(PICKLE_RAN),))


def _pickle_npz() -> bytes:
    """An npz whose grid is an object array: loading it with pickles allowed would run ``os.mkdir``."""
    buffer = io.BytesIO()
    np.savez(buffer, grid_prob=np.array([_Planted()], dtype=object))
    return buffer.getvalue()


HUGE_NPZ, ZIP_BOMB, PICKLE_NPZ = _huge_npz(), _zip_bomb(), _pickle_npz()


def _replace(path: Path) -> None:
    """Remove ``path`` (a file, link or folder) so something else can take its name."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)


def _retype(raw: bytes, draw) -> bytes:
    """A JSON file with one value, anywhere in it, replaced by a value of any type."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    paths, stack = [], [((), data)]
    while stack:
        prefix, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            paths.append((*prefix, key))
            stack.append(((*prefix, key), value))
    if not paths:
        return json.dumps(draw(json_values)).encode()
    path = draw(st.sampled_from(sorted(paths, key=repr)))
    parent = functools.reduce(lambda node, key: node[key], path[:-1], data)
    parent[path[-1]] = draw(json_values)
    text = json.dumps(data)
    if draw(st.booleans()) and '"' in text:  # or a text value replaced by deep nesting written raw
        text = text.replace('"', "[" * 3000 + '"', 1)
    return text.encode()


def _cell(raw: bytes, draw) -> bytes:
    """A CSV with one cell replaced (names with dots, newlines, formulas, huge fields) or a column dropped."""
    lines = raw.decode("utf-8", "replace").splitlines()
    if not lines:
        return raw
    row = draw(st.integers(0, len(lines) - 1))
    cells = lines[row].split(",")
    at = draw(st.integers(0, len(cells) - 1))
    if draw(st.booleans()):
        cells[at] = json.dumps(draw(st.sampled_from(TEXTS)))  # quoted, so a newline or comma stays one cell
    else:
        del cells[at]
    lines[row] = ",".join(cells)
    return "\n".join(lines).encode()


def _mutate(exp: Path, draw) -> None:
    """One hostile edit to one of the experiment's files or folders."""
    entries = _entries(exp)
    if not entries:
        return
    path = draw(st.sampled_from(entries))
    how = draw(st.sampled_from(MUTATIONS))
    raw = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    if how == "truncate" and raw:
        path.write_bytes(raw[: draw(st.integers(0, len(raw) - 1))])
    elif how == "garbage":
        _replace(path)
        path.write_bytes(draw(st.binary(max_size=64)))
    elif how in ("link", "link_dir"):
        _replace(path)
        path.symlink_to(exp.parent / ("secret.png" if how == "link" else "beside"))
    elif how == "folder":
        _replace(path)
        path.mkdir()
    elif how == "delete":
        _replace(path)
    elif how == "retype" and path.suffix == ".json":
        path.write_bytes(_retype(raw, draw))
    elif how == "cell" and path.suffix == ".csv":
        path.write_bytes(_cell(raw, draw))
    elif how == "yaml" and path.suffix == ".yaml":
        text = raw.decode("utf-8", "replace")
        edit = draw(st.sampled_from(["laughs", "name", "sweep"]))
        if edit == "laughs":
            path.write_text(text + LAUGHS + "sweep: {a: *l8}\n")
        elif edit == "name":
            path.write_text(re.sub(r"(?m)^name: .*$", f"name: {json.dumps(draw(st.sampled_from(NAMES)))}", text))
        else:
            path.write_text(re.sub(r"(?m)^sweep: .*$", f"sweep: {json.dumps(draw(json_values))}", text))
    elif how == "npz" and path.suffix == ".npz":
        path.write_bytes(draw(st.sampled_from([HUGE_NPZ, ZIP_BOMB, PICKLE_NPZ])))
    elif how == "rename" and path.is_dir() and not path.is_symlink():
        name = draw(st.sampled_from([n for n in NAMES if "/" not in n and n not in (".", "..")]))
        path.rename(path.parent / name)


def _command(name: str, exp: Path, pristine: Path, out: Path) -> list[str]:
    return {
        "report": ["report", str(exp)],
        "compare": ["compare", str(exp / "none"), str(exp / "l2"), "--out", str(out)],
        "diff": ["diff", str(pristine), str(exp)],
        "diff_back": ["diff", str(exp), str(pristine), "--markdown"],
        "check": ["check", str(exp), "--markdown"],
    }[name]


def _load(exp: Path) -> str:
    """``regdemo.load`` and everything its result shows; what a page shows is returned."""
    try:
        results = regdemo.load(exp)
        shown = [repr(results), results.text(), results._repr_html_(), repr(results.summary), repr(results.checks)]
        for run in results.runs.values():
            shown += [repr(run), run._repr_html_(), repr(run.history), repr(run.metrics), run.status, run.error]
        return "\n".join(shown)
    except (RunFolderError, ConfigError) as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000, str(exc)
        return ""


def _leaked(text: str) -> bool:
    """Does ``text`` hold the private file, as bytes or base64-embedded?"""
    encoded = base64.b64encode(SECRET).decode()
    return "PRIVATE-8d0c1f" in text or encoded[:40] in text


@pytest.mark.parametrize("command", ["report", "compare", "diff", "diff_back", "check", "load"])
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing example's draws are printed as found
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_mutated_folder_is_read_within_bounds_and_nothing_beside_it_changes(pristine, capsys, command, data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp) / "received"
        exp = parent / "got"
        shutil.copytree(pristine, exp, symlinks=True)
        (parent / "secret.png").write_bytes(SECRET)
        (parent / "beside").mkdir()
        (parent / "beside" / "summary.csv").write_text("run,status\nx,ok\n")
        (parent / ".got.1.tmp.html").write_text("beside")
        for _ in range(data.draw(st.integers(1, 3))):
            _mutate(exp, data.draw)
        before = _listing(parent, skip=exp)
        capsys.readouterr()
        peak, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
        if command == "load":
            shown = _load(exp)
        else:
            status = main(_command(command, exp, pristine, Path(tmp) / "compared"))
            captured = capsys.readouterr()
            assert status in (0, 1, 2, 3), status
            assert "Traceback" not in captured.err
            if status == 2:
                assert captured.err.count("\n") == 1, captured.err
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", captured.out + captured.err)
            if "--markdown" in _command(command, exp, pristine, Path(tmp)):  # one heading at most, the first line
                headings = re.findall(r"(?m)^#+ .*$", captured.out)
                assert len(headings) <= 1 and captured.out.startswith(tuple(headings) or ""), captured.out
                assert "![" not in captured.out and "<img" not in captured.out
            page = exp / "report.html"
            shown = page.read_text("utf-8", "replace") if page.is_file() and not page.is_symlink() else ""
        assert time.perf_counter() - started < MAX_SECONDS
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < MAX_GROWTH_KB
        assert not _leaked(shown)
        assert _listing(parent, skip=exp) == before
        assert not PICKLE_RAN.exists()


def test_nothing_in_the_package_loads_a_pickle_or_a_model() -> None:
    """The dynamic test above plants a pickle; this one reads the source for the calls that would load one."""
    source = {path: path.read_text() for path in Path(regdemo.__file__).parent.rglob("*.py")}
    assert not {
        str(p) for p, text in source.items() if re.search(r"allow_pickle\s*=\s*True|load_model|pickle\.load", text)
    }
