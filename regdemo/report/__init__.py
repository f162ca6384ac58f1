"""regdemo.report."""
