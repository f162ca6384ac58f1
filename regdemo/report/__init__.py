"""report: report.html, one static page of an experiment: checks, summary, the interactive viewer,
comparison figures and runs.

- :mod:`~regdemo.report.page`: the page rendered from the Jinja2 templates in ``templates/`` (autoescaped)
  and written (:func:`write_report`);
- :mod:`~regdemo.report.viewer`: the viewer's data, one JSON document the page's script reads;
- :mod:`~regdemo.report.parallel`: the parallel-coordinates panel's axes, part of that document.

Reads saved runs only (:mod:`regdemo.results`), draws through :mod:`regdemo.draw`.
"""

from regdemo.exports import lazy_exports

EXPORTS = {"write_report": "page", "viewer_data": "viewer"}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
