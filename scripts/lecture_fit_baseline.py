"""The lecture's way of training, as a performance baseline.

Trains the lecture network as the lecture's code does (moons 100 points, noise 0.25, seed 2;
Dense 128-128-1 with the penalty on the two hidden layers; Adam 0.01; binary cross-entropy; Keras'
default batch 32; ``model.fit(X, y, epochs=..., validation_split=0.2, verbose=0)``), then predicts a
decision grid with ``model.predict`` the way mlxtend's ``plot_decision_regions`` does (step 0.02, one
unit beyond the data). Prints one JSON line with the timings.

    python scripts/lecture_fit_baseline.py --epochs 200 --regularizer l2

Compare against the project's own engine on the same work, in the same run, as a ratio: absolute
times on these shared machines drift from run to run. ``benchmark.py`` runs it.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--regularizer", choices=["none", "l1", "l2"], default="none")
    parser.add_argument("--lam", type=float, default=0.001)
    parser.add_argument("--grid-step", type=float, default=0.02)
    args = parser.parse_args()

    t0 = time.perf_counter()
    import keras  # imported here: its import time is part of what a run of the lecture's code costs
    import numpy as np
    from sklearn.datasets import make_moons

    import_s = time.perf_counter() - t0
    keras.utils.set_random_seed(2)
    X, y = make_moons(n_samples=100, noise=0.25, random_state=2)
    penalty = {"none": None, "l1": keras.regularizers.L1(args.lam), "l2": keras.regularizers.L2(args.lam)}
    reg = penalty[args.regularizer]
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(128, activation="relu", kernel_regularizer=reg),
            keras.layers.Dense(128, activation="relu", kernel_regularizer=reg),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])

    t1 = time.perf_counter()
    history = model.fit(X, y, epochs=args.epochs, validation_split=0.2, verbose=0)
    fit_s = time.perf_counter() - t1

    xs = np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, args.grid_step)
    ys = np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, args.grid_step)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.c_[xx.ravel(), yy.ravel()]
    t2 = time.perf_counter()
    model.predict(grid, verbose=0)
    predict_s = time.perf_counter() - t2

    kernel = model.get_weights()[0].ravel()
    print(
        json.dumps(
            {
                "epochs": args.epochs,
                "regularizer": args.regularizer,
                "import_s": round(import_s, 3),
                "fit_s": round(fit_s, 3),
                "ms_per_epoch": round(1000 * fit_s / args.epochs, 3),
                "grid_points": int(grid.shape[0]),
                "predict_s": round(predict_s, 3),
                "final_loss": float(history.history["loss"][-1]),
                "final_val_loss": float(history.history["val_loss"][-1]),
                "first_kernel_min": float(kernel.min()),
                "first_kernel_max": float(kernel.max()),
                "first_kernel_std": float(kernel.std()),
            }
        )
    )


if __name__ == "__main__":
    main()
