"""Dataset loaders: each parses and validates its files into a :class:`GraphPlan` first, and only a
fully valid plan is written, so bad input never leaves a half-written graph."""
