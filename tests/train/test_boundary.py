"""Boundary complexity: contour length and decision regions of hand-made grids, and in a real run's outputs."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from regdemo.cli import main
from regdemo.train.metrics import Grid, boundary_complexity

XLIM, YLIM = (-2.0, 3.0), (-1.5, 2.0)  # the lecture's plot box: 5 × 3.5
DIAGONAL = math.hypot(5.0, 3.5)


def _grid(prob_of, resolution: int = 300) -> Grid:
    """A Grid over the lecture's box with ``prob = prob_of(xx, yy)`` (arrays of shape (resolution, resolution))."""
    xx, yy = np.meshgrid(np.linspace(*XLIM, resolution), np.linspace(*YLIM, resolution))
    return Grid(xx, yy, np.asarray(prob_of(xx, yy), dtype=np.float64))


def _disk(xx: np.ndarray, yy: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """P(class 1) high inside a circle of ``radius`` around (0.5, 0.25), a smooth sigmoid across its edge."""
    return 1.0 / (1.0 + np.exp((np.hypot(xx - 0.5, yy - 0.25) - radius) / 0.1))


def test_a_vertical_straight_boundary_has_the_box_height_over_the_diagonal_and_two_regions() -> None:
    b = boundary_complexity(_grid(lambda xx, yy: np.clip(0.5 + 0.2 * (xx - 0.5), 0, 1)))
    assert b["contour_length"] == pytest.approx(3.5 / DIAGONAL, rel=1e-9)  # linear p: the contour is exact
    assert b["regions"] == 2
    assert b["class1_area_fraction"] == pytest.approx(0.5, abs=1 / 300)


def test_a_boundary_along_the_diagonal_has_length_one() -> None:
    b = boundary_complexity(_grid(lambda xx, yy: 0.5 + 0.1 * (3.5 * (xx + 2) - 5 * (yy + 1.5))))
    assert b["contour_length"] == pytest.approx(1.0, rel=1e-9)
    assert b["regions"] == 2


@pytest.mark.parametrize(("resolution", "tolerance"), [(300, 1e-4), (60, 1e-3), (30, 2e-3)])
def test_a_disk_is_two_regions_and_its_circumference_over_the_diagonal(resolution: int, tolerance: float) -> None:
    """Chords of the grid cut the circle slightly short; the error shrinks as the grid gets finer."""
    b = boundary_complexity(_grid(_disk, resolution))
    exact = 2 * math.pi / DIAGONAL
    assert b["regions"] == 2
    assert exact * (1 - tolerance) < b["contour_length"] <= exact
    assert b["class1_area_fraction"] == pytest.approx(math.pi / (5 * 3.5), rel=0.1)


def test_two_disks_and_a_hole_count_as_separate_regions() -> None:
    two = boundary_complexity(_grid(lambda xx, yy: np.maximum(_disk(xx + 1.2, yy, 0.5), _disk(xx - 1.2, yy, 0.5))))
    assert two["regions"] == 3  # two class-1 islands in one class-0 sea
    assert two["contour_length"] == pytest.approx(2 * 2 * math.pi * 0.5 / DIAGONAL, rel=1e-3)
    ring = boundary_complexity(_grid(lambda xx, yy: _disk(xx, yy, 1.2) - _disk(xx, yy, 0.6)))
    assert ring["regions"] == 3  # outside, the ring, the hole


def test_a_checkerboard_has_many_regions_and_a_long_boundary() -> None:
    i, j = np.indices((40, 40))
    xx, yy = np.meshgrid(np.linspace(*XLIM, 40), np.linspace(*YLIM, 40))
    b = boundary_complexity(Grid(xx, yy, ((i // 10 + j // 10) % 2).astype(float)))
    assert b["regions"] == 16  # 4 × 4 squares; diagonal neighbours do not connect
    # 3 vertical lines of length 3.5 and 3 horizontal of length 5, cut a little at each of the 9 crossings
    assert b["contour_length"] == pytest.approx(3 * (3.5 + 5) / DIAGONAL, rel=0.03)
    assert b["class1_area_fraction"] == 0.5


def test_one_class_everywhere_is_one_region_and_no_boundary() -> None:
    assert boundary_complexity(_grid(lambda xx, yy: np.full_like(xx, 0.2))) == {
        "contour_length": 0.0,
        "regions": 1,
        "class1_area_fraction": 0.0,
    }


def test_a_diverged_grid_gives_nulls() -> None:
    b = boundary_complexity(_grid(lambda xx, yy: np.full_like(xx, np.nan)))
    assert b == {"contour_length": None, "regions": None, "class1_area_fraction": None}


def test_a_run_stores_the_boundary_of_its_saved_grid_and_the_summary_shows_it(write_config, tmp_path) -> None:
    out = tmp_path / "out"
    sets = ["--set", "training.epochs=5", "--set", "plots.boundary.resolution=40"]
    assert main(["run", str(write_config()), "--out", str(out), "--quiet", "--no-report", "--workers", "1", *sets]) == 0
    with (out / "tiny" / "summary.csv").open(newline="") as f:
        rows = {row["run"]: row for row in csv.DictReader(f)}
    for name, row in rows.items():
        run_dir = out / "tiny" / name
        stored = json.loads((run_dir / "metrics.json").read_text())["boundary"]
        with np.load(run_dir / "plot_data.npz") as saved:
            assert stored == boundary_complexity(Grid(saved["grid_x"], saved["grid_y"], saved["grid_prob"]))
        assert stored["regions"] >= 1 and stored["contour_length"] >= 0
        assert float(row["boundary_contour_length"]) == pytest.approx(stored["contour_length"])
        assert int(row["boundary_regions"]) == stored["regions"]
        assert float(row["boundary_class1_area_fraction"]) == pytest.approx(stored["class1_area_fraction"])
