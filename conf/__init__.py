"""Hydra configs of NeuralGraph, installed as the package ``neuralgraph.conf`` (see neuralgraph/resources.py)."""
