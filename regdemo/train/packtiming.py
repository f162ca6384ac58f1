"""The packed engine's speed on an experiment's runs: all of them in one pack, timed from the first call of
``train_pack`` (the trace included) to its end. ``scripts/benchmark.py`` runs it in a fresh process, so the
program is traced as a first pack is:

    python -m regdemo.train.packtiming configs/lambda_sweep.yaml [--set training.epochs=200 ...]

prints one JSON line: ``{"runs": N, "epochs": E, "seconds": S, "ms_per_run_epoch": 1000·S / Σ epochs run}``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from regdemo.config.loading import load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.config.schema import RunConfig


def time_pack(cfgs: Sequence[RunConfig]) -> dict[str, float]:
    """Train ``cfgs`` (one :func:`regdemo.train.packed.pack_key`) in one pack: runs, epochs (the most any ran),
    seconds of ``train_pack`` and ms per run-epoch (over the epochs each run ran)."""
    from regdemo.train import packed

    runs = [packed.pack_run(cfg)[1] for cfg in cfgs]
    started = time.perf_counter()
    results = packed.train_pack(runs)
    seconds = time.perf_counter() - started
    run_epochs = sum(result.history.epochs_run for result in results)
    epochs = max(result.history.epochs_run for result in results)
    return {"runs": len(runs), "epochs": epochs, "seconds": seconds, "ms_per_run_epoch": 1000 * seconds / run_epochs}


def main(argv: Sequence[str]) -> int:
    """``CONFIG [--set KEY=VALUE ...]`` → the JSON line of :func:`time_pack` on the config's runs."""
    from regdemo.train.tfsetup import load_tensorflow

    path, sets = argv[0], [arg.removeprefix("--set=") for arg in argv[1:] if arg != "--set"]
    runs = load_experiment(path, parse_sets(sets, path)).runs
    load_tensorflow()
    print(json.dumps(time_pack(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
