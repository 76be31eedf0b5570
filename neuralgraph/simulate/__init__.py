"""Ground-truth simulators, one module per family."""
