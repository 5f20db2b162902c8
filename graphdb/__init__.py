"""Graph layer: Neo4j connection, the local Neo4j launcher, schema, loaders and graph queries.

Everything here takes a ``neo4j.Driver`` from its caller; nothing opens a connection at import.
"""
