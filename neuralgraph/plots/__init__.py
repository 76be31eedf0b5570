"""Figures written into a run's ``plots/`` folder, drawn from ``results.npz`` arrays."""
