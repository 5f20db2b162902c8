"""Splits, negative sampling, training loop, metrics, tuning, checkpoints, batch top-K scoring."""
