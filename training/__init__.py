"""Splits, negative sampling, training loop, metrics, tuning, checkpoints, batch top-K scoring.
(Arrives with the GNN issue.)"""
