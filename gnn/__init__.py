"""Model code only: heterogeneous encoders, link decoders, baselines. No Neo4j, no files."""
