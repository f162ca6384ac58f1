"""regdemo.runs."""
