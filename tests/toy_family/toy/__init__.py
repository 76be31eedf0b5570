"""A linear system dx/dt = A·x: the smallest family, written outside ``neuralgraph`` to show that
a new system is one folder (found through ``NEURALGRAPH_FAMILIES``) and one regime YAML."""
