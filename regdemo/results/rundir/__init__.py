"""The run folder and the experiment folder on disk: every file name, every writer, every reader.

A run folder (``<experiment>/<run>/``) holds::

    config.yaml     the fully resolved run config (what resume compares against)
    metrics.json    final and window numbers, weight stats, boundary complexity, status, ``format`` (FORMAT)
    history.csv     one row per epoch: ``epoch`` and the columns of :data:`regdemo.columns.COLUMNS`
    plot_data.npz   the boundary grid, every Dense kernel and the dataset's train/validation(/test) points
                    (with ``plots.snapshots`` also the film's ``snapshot_*`` arrays)
    model.keras     the trained Keras model
    boundary.png, loss.png, weights.png
    training.gif, training_frames.png   with ``plots.snapshots``: the training as a film (and its frames)
    error.txt       a failed run's traceback (a failed run has config.yaml, metrics.json and this only)
    tensorboard/    with ``--tensorboard``: train/, validation/ and the run's HParams session

An experiment folder holds its run folders, ``summary.csv``, the comparison figures
(``compare_*.png``, ``sweep_<field>.png``, ``path_<field>.png``), ``checks.json`` (the config's checks judged,
with the rules resolved to run names so that ``regdemo check`` needs no config), ``selection.json`` (a
config's ``select:`` section: the values it chose and the table behind them), ``report.html``,
``tensorboard/`` (with ``--tensorboard``: the HParams experiment summary, :mod:`regdemo.runs.tensorboard`) and
``.regdemo.lock`` (the lock of the one ``regdemo run`` writing it, see :mod:`regdemo.results.lock`).
Writers write whole: a run folder through :func:`regdemo.results.storage.write_whole`, an experiment-level file through
:func:`regdemo.results.storage.atomic_write`. Readers check the format version, so a folder written by another
version is one clear line (:class:`RunFolderError`), never misread. No TensorFlow and no plotting here.
"""

# The package is the one owner of the format: callers use ``rundir.<name>``, whichever file defines it.
from regdemo.results.rundir.expfiles import GRID_KEYS, grid_checksums, read_checks, read_summary, summary_order
from regdemo.results.rundir.names import (
    BOUNDARY_PNG,
    CHECKS,
    COMPARE_WEIGHTS,
    COMPLETE,
    CONFIG,
    ERROR,
    FORMAT,
    HISTORY,
    LOCK,
    LOSS_PNG,
    METRICS,
    MODEL,
    PLOT_DATA,
    REPORT,
    RUN_PLOTS,
    SELECTION,
    SUMMARY,
    TENSORBOARD,
    TRAINING_FRAMES,
    TRAINING_GIF,
    WEIGHTS_PNG,
    comparison_figures,
    page_names,
    path_file,
    stale_comparison_files,
    sweep_file,
)
from regdemo.results.rundir.read import (
    LoadedRun,
    check_run_dir,
    find_runs,
    is_run_dir,
    load_run,
    load_runs,
    open_plot_data,
    read_config,
    read_film,
    read_history,
    read_metrics,
    read_plot_data,
    read_plots,
    read_snapshot_epochs,
    read_text,
    run_error,
    run_status,
    run_sweep,
    run_variant,
    saved_run,
    saved_state,
    unique_labels,
)
from regdemo.results.rundir.safe import MAX_ERROR_CHARS, is_regular, read_png
from regdemo.results.rundir.selectionfile import drop_selection, read_selection, write_selection
from regdemo.results.rundir.write import (
    SummaryAppender,
    folder_files,
    plain_text,
    write_checks,
    write_config,
    write_failed,
    write_failed_whole,
    write_figure,
    write_film,
    write_folder_files,
    write_history,
    write_metrics,
    write_page,
    write_plot_data,
    write_png,
    write_summary,
)

__all__ = [
    "BOUNDARY_PNG",
    "CHECKS",
    "COMPARE_WEIGHTS",
    "COMPLETE",
    "CONFIG",
    "ERROR",
    "FORMAT",
    "GRID_KEYS",
    "HISTORY",
    "LOCK",
    "LOSS_PNG",
    "MAX_ERROR_CHARS",
    "METRICS",
    "MODEL",
    "PLOT_DATA",
    "REPORT",
    "RUN_PLOTS",
    "SELECTION",
    "SUMMARY",
    "TENSORBOARD",
    "TRAINING_FRAMES",
    "TRAINING_GIF",
    "WEIGHTS_PNG",
    "LoadedRun",
    "SummaryAppender",
    "check_run_dir",
    "comparison_figures",
    "drop_selection",
    "find_runs",
    "folder_files",
    "grid_checksums",
    "is_regular",
    "is_run_dir",
    "load_run",
    "load_runs",
    "open_plot_data",
    "page_names",
    "path_file",
    "plain_text",
    "read_checks",
    "read_config",
    "read_film",
    "read_history",
    "read_metrics",
    "read_plot_data",
    "read_plots",
    "read_png",
    "read_selection",
    "read_snapshot_epochs",
    "read_summary",
    "read_text",
    "run_error",
    "run_status",
    "run_sweep",
    "run_variant",
    "saved_run",
    "saved_state",
    "stale_comparison_files",
    "summary_order",
    "sweep_file",
    "unique_labels",
    "write_checks",
    "write_config",
    "write_failed",
    "write_failed_whole",
    "write_figure",
    "write_film",
    "write_folder_files",
    "write_history",
    "write_metrics",
    "write_page",
    "write_plot_data",
    "write_png",
    "write_selection",
    "write_summary",
]
