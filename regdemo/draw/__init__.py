"""draw: numbers → figures, the per-run plots, the film and the comparison of saved runs.

- :mod:`~regdemo.draw.plots`: the plots of a run (boundary, loss curves, weight density), each function
  taking an optional ``ax``;
- :mod:`~regdemo.draw.comparison`: the comparison's figures of many runs (panel grids, weight groups, sweep lines);
- :mod:`~regdemo.draw.run_figures`: a run's boundary.png, loss.png and weights.png, on figures kept per
  process and redrawn in place;
- :mod:`~regdemo.draw.film`: the training as a film (training.gif, training_frames.png);
- :mod:`~regdemo.draw.canvas`: figures to pixels and PNG bytes cheaply (layers rendered once, fast encoding);
- :mod:`~regdemo.draw.layout`: where each run goes on a comparison page (computed, not drawn);
- :mod:`~regdemo.draw.figures`: the comparison figures of saved runs, drawn and written (``regdemo compare``).

Reads runs through :mod:`regdemo.results`; trains nothing.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "compare": "figures",
    "comparison_figures": "figures",
    "boundary_figure": "run_figures",
    "loss_figure": "run_figures",
    "weights_figure": "run_figures",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
