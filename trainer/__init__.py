"""Training and evaluation (Qt-free). Filled in by the trainer issue."""
