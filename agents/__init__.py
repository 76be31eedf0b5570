"""The shared documents the LLM reads (families keep their instruction documents in their folders), installed as ``neuralgraph.agents`` (see neuralgraph/resources.py)."""
