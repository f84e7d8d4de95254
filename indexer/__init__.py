"""The nightly harvest and the local full-text index of merged editions (whoosh)."""
