"""export: saved experiments handed to the tools users already keep their runs in, the last stage of the data
path; it reads experiment folders only (through :mod:`regdemo.results.rundir`) and trains nothing.

- :mod:`~regdemo.export.mlflow`: ``regdemo export mlflow``, every run of an experiment as an MLflow run.
"""
