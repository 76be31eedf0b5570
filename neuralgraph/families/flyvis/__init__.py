"""The fly visual system on its connectome: τ dv/dt = −v + V_rest + W ReLU(v) + I; learn W, τ, V_rest, types and the input."""
