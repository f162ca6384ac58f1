"""regdemo.train."""
