"""regdemo.draw."""
