"""The HTTP API: predictions plus graph paths as explanations. (Arrives with the serving issue.)"""
