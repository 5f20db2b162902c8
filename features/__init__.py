"""Features layer: node texts, the transformer text encoder, its cache, and LLM interest tagging.

Knows nothing about GNNs and opens no connection: callers pass plain records in and get texts or
vectors out. Nothing is loaded at import; models load when an encoder is constructed.
"""
