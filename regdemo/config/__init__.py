"""regdemo.config."""
