"""The shared Hydra configs of NeuralGraph (families keep their own in their folders), installed as ``neuralgraph.conf`` (see neuralgraph/resources.py)."""
