"""regdemo.results."""
