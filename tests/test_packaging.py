"""Installable without the repository: the story configs ship inside the package (``regdemo.configs``, mapped to
the top-level ``configs/``), ``regdemo run lecture`` finds the shipped config by name from any folder, and
``regdemo configs`` lists them or copies one out. The slow test builds the wheel, installs it into a fresh venv
and runs the lecture smoke there, from a folder without the repository (then the same from an editable install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import regdemo
from conftest import REPO, TINY
from regdemo.cli import main
from regdemo.config import shipped


def test_the_listed_packages_are_the_package_folders_and_the_shipped_configs() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = {".".join(path.parent.relative_to(REPO).parts) for path in (REPO / "regdemo").rglob("__init__.py")} | {
        "regdemo.configs"
    }
    assert set(setuptools["packages"]) == found  # a new subpackage must be listed, or the wheel lacks it
    assert setuptools["package-dir"] == {"regdemo.configs": "configs"}
    assert setuptools["package-data"]["regdemo.configs"] == ["*.yaml"]


def test_the_shipped_configs_are_the_repositorys() -> None:
    assert shipped.names() == sorted(path.stem for path in (REPO / "configs").glob("*.yaml"))
    for name in shipped.names():
        assert shipped.shipped(name).read_bytes() == (REPO / "configs" / f"{name}.yaml").read_bytes()
    assert shipped.shipped("lecture.yaml") is not None and shipped.shipped("nope") is None
    assert shipped.description("lecture").startswith("The lecture's demo: make_moons(100, noise 0.25, seed 2)")


def test_configs_lists_prints_and_copies_without_overwriting(tmp_path, capsys) -> None:
    assert main(["configs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == shipped.names()
    assert all(len(line) <= 16 + 1 + 90 for line in listed)
    assert main(["configs", "lecture"]) == 0
    assert capsys.readouterr().out == (REPO / "configs" / "lecture.yaml").read_text(encoding="utf-8")
    target = tmp_path / "my.yaml"
    assert main(["configs", "lecture", "--to", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert target.read_bytes() == (REPO / "configs" / "lecture.yaml").read_bytes()
    target.write_text("mine", encoding="utf-8")
    assert main(["configs", "lecture", "--to", str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: already exists; not overwritten (give --to another path)\n"
    assert target.read_text(encoding="utf-8") == "mine"
    assert main(["configs", "remedies.yaml", "--to", str(tmp_path)]) == 0  # into a folder, under its own name
    assert (tmp_path / "remedies.yaml").read_bytes() == (REPO / "configs" / "remedies.yaml").read_bytes()
    capsys.readouterr()
    assert main(["configs", "nope"]) == 2
    assert capsys.readouterr().err == f"nope: no shipped config of that name (shipped: {', '.join(shipped.names())})\n"
    assert main(["configs", "--to", str(tmp_path / "x.yaml")]) == 2
    assert capsys.readouterr().err.startswith("--to: give the NAME")


def test_a_bare_name_is_a_file_first_then_a_shipped_config(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "lecture", "--smoke"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["3 run(s) in experiment lecture", "lecture: ok"]
    (tmp_path / "lecture").write_text(TINY, encoding="utf-8")  # a file of that name wins
    assert main(["validate", "lecture"]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "3 run(s) in experiment tiny"
    assert main(["validate", "lecturex"]) == 2
    assert capsys.readouterr().err.startswith("lecturex: cannot read: no such file, nor a shipped config of that name")
    assert main(["validate", "sub/lecture"]) == 2  # a path is a path: never a shipped config
    assert capsys.readouterr().err.startswith("sub/lecture: cannot read: No such file")


_TEXT = {"capture_output": True, "text": True, "check": True, "timeout": 120}


def _copy_source(dest: Path) -> Path:
    """The repository's files a build reads (no venvs, outputs, caches or earlier builds)."""
    skip = shutil.ignore_patterns(
        ".git", ".venv", "venv", "outputs", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests"
    )
    shutil.copytree(REPO, dest, ignore=skip)
    return dest


def _venv(where: Path) -> Path:
    """A fresh venv whose own site-packages comes first, with this interpreter's site-packages after it (a .pth
    line: only a path appended, so the editable regdemo installed there is not loaded) for the heavy
    dependencies (TensorFlow, …): so that pip installs regdemo itself with ``--no-deps`` and nothing is fetched."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    python = where / "bin" / "python"
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(own) / "outer-site-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return where / "bin"


@pytest.mark.slow
def test_the_built_wheel_runs_the_lecture_smoke_outside_the_repository(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = _copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)], env=env, check=True)
    [wheel] = dist.glob("regdemo-*.whl")
    assert wheel.name == f"regdemo-{regdemo.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"regdemo/configs/{name}.yaml" for name in shipped.names()} <= set(names)
    assert {"regdemo/report/templates/report.js", "regdemo/report/templates/parallel.js"} <= set(names)
    bin_dir = _venv(tmp_path / "venv")
    pip = [bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], env=env, check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"  # no configs/, no repository
    elsewhere.mkdir()

    def regdemo_(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [bin_dir / "regdemo", *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600
        )

    where = subprocess.run(
        [bin_dir / "python", "-c", "import regdemo; print(regdemo.__file__)"], cwd=elsewhere, env=env, **_TEXT
    )
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout  # the wheel's, not the repository's
    assert regdemo_("--version").stdout == f"regdemo {regdemo.__version__}\n"
    assert regdemo_("configs").stdout.splitlines()[0].split()[0] == shipped.names()[0]
    done = regdemo_("run", "lecture", "--smoke", "--quiet", "--workers", "1", "--no-report")
    assert done.returncode == 0, done.stderr
    rows = (elsewhere / "outputs" / "lecture" / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["no_reg", "l2", "l1"]
    # an editable install of the same source finds the configs in its top-level configs/
    subprocess.run([*pip[:-1], "-e", str(source)], env=env, check=True, timeout=600)
    (source / "configs" / "lecture.yaml").write_text(TINY.replace("name: tiny", "name: edited"), encoding="utf-8")
    listed = regdemo_("validate", "lecture")
    assert listed.returncode == 0 and "3 run(s) in experiment edited" in listed.stdout, listed.stderr
