"""Features layer: node texts, the transformer text encoder, its cache, LLM interest tagging and
canonicalisation. Knows nothing about GNNs. (Arrives with the LLM-features issue.)"""
