"""Metabolic networks: dc/dt = S·v(c) − λ(c − c₀); learn the rate constants k (and S) from concentrations."""
