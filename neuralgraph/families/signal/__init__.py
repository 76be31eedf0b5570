"""Neural signal networks: du/dt = φ(u) + W ψ(u) (+ input); learn the connectivity W and the transfer functions."""
