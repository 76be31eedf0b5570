"""NeuralGraph: simulate networks on graphs, train GNNs that mirror them, recover their hidden parameters.

The public surface is small:

- ``neuralgraph.train`` — the Hydra entry point (``python -m neuralgraph.train +regime=...``);
- ``neuralgraph.families`` — one :class:`~neuralgraph.family.Family` per system
  (simulate → build model → evaluate → plot);
- ``neuralgraph.rundir`` — reading and writing the run-directory contract;
- ``neuralgraph.metrics`` — pure metric functions.
"""

__version__ = "0.1.0"
