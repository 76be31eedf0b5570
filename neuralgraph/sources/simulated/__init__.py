"""The default source: the regime's simulator, cached by a hash of the simulation block."""
