"""draw: numbers → figures, the per-run plots, the film and the comparison of saved runs.

- :mod:`~regdemo.draw.plots`: a run's figures (boundary, loss curves, weight density) and the comparison's
  panels; compute first, then draw, each function taking an optional ``ax``;
- :mod:`~regdemo.draw.film`: the training as a film (training.gif, training_frames.png);
- :mod:`~regdemo.draw.layout`: where each run goes on a comparison page (computed, not drawn);
- :mod:`~regdemo.draw.figures`: the comparison figures of saved runs, drawn and written (``regdemo compare``).

Reads runs through :mod:`regdemo.results`; trains nothing.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "compare": "figures",
    "comparison_figures": "figures",
    "boundary_figure": "plots",
    "loss_figure": "plots",
    "weights_figure": "plots",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
