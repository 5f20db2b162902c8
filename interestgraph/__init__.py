"""interestgraph: expand user interests with Neo4j, LLM text embeddings and a heterogeneous GNN.

This package is the thin composition root (CLI and settings) over the layers ``graphdb``,
``features``, ``gnn``, ``training`` and ``serving``.
"""

__version__ = "0.1.0"
