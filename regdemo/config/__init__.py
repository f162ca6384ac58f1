"""config: YAML → typed, validated experiment config, the first stage of the data path.

Owns everything a config file is and says, before anything trains:

- :mod:`~regdemo.config.yamlfile`: reading a YAML file within bounds (size, UTF-8, nesting, aliases), with
  the line every value came from;
- :mod:`~regdemo.config.schema`: the schema of one resolved run (:class:`RunConfig`, pydantic, strict);
- :mod:`~regdemo.config.sweep`: the ``sweep:`` block's axes, run count and run names;
- :mod:`~regdemo.config.overrides`: overrides (field path → value; the command line's ``--set`` parsed);
- :mod:`~regdemo.config.checkspec`: the ``checks:`` section's schema, resolved to run names;
- :mod:`~regdemo.config.resources`: the memory a run needs, estimated from its config (the preflight);
- :mod:`~regdemo.config.shipped`: the story configs shipped inside the package, found by name;
- :mod:`~regdemo.config.locate`: the file line and field an error names;
- :mod:`~regdemo.config.loading`: the pipeline (read → expand → override → shrink → validate → preflight →
  resolve checks) that makes an :class:`ExperimentConfig`.

Imports nothing of the later stages; no TensorFlow.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "ExperimentConfig": "loading",
    "load_experiment": "loading",
    "MAX_RUNS": "loading",
    "RunConfig": "schema",
    "parse_sets": "overrides",
    "preflight": "resources",
    "ResolvedCheck": "checkspec",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
