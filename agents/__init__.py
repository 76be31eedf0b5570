"""The LLM's instruction documents, installed as the package ``neuralgraph.agents`` (see neuralgraph/resources.py)."""
