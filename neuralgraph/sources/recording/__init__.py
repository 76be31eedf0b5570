"""A measured recording read from a file (:mod:`neuralgraph.recording`): no simulator, no truth."""
