"""Temporal graph engine (DGL, and a native-torch twin) and the GraphSAGE backbone."""
