"""The fly visual system's known-law oracle against numpy least squares on a hand-built network."""

from __future__ import annotations

import numpy as np

from neuralgraph.families.flyvis import oracle


def _network(seed: int = 0, n: int = 12, n_frames: int = 300, p_edge: float = 0.3) -> dict[str, np.ndarray]:
    """Random edges and voltages; dv/dt from τ dv/dt = −v + V_rest + Σ W ReLU(v_j) + I exactly (float64)."""
    rng = np.random.default_rng(seed)
    pairs = [(j, i) for i in range(n) for j in range(n) if j != i and rng.random() < p_edge]
    src, tgt = (np.array(c) for c in zip(*pairs))
    W = rng.normal(0, 0.5, len(src))
    tau, v_rest = rng.uniform(0.05, 0.25, n), rng.normal(0.5, 0.3, n)
    x = rng.normal(0.3, 0.5, (n_frames, n))
    input_nodes = np.array([0, 1, 2])
    node_col = np.array([0, 1, 0] + [0] * (n - 3))
    stimulus = rng.random((n_frames, 2))
    I = np.zeros((n_frames, n))
    I[:, input_nodes] = 2.0 * stimulus[:, node_col[input_nodes]]
    msg = np.zeros((n_frames, n))
    np.add.at(msg.T, tgt, (W[:, None] * np.maximum(x[:, src], 0).T))
    y = (-x + v_rest + msg + I) / tau
    return {"x": x, "y": y, "W": W, "edge_src": src, "edge_tgt": tgt, "tau": tau, "V_rest": v_rest,
            "input_nodes": input_nodes, "node_col": node_col, "stimulus": stimulus}


def test_noise_free_recovery_to_1e6_given_and_joint():
    arrays = _network()
    est = oracle.fit(arrays, input_gain=2.0, ridge=1e-14)
    np.testing.assert_allclose(est["W"], arrays["W"], atol=1e-6)
    np.testing.assert_allclose(est["W_joint"], arrays["W"], atol=1e-6)
    np.testing.assert_allclose(est["tau"], arrays["tau"], rtol=1e-6)
    np.testing.assert_allclose(est["V_rest"], arrays["V_rest"], atol=1e-6)
    metrics, W_hat = oracle.oracle_metrics(arrays, input_gain=2.0, ridge=1e-14)
    assert metrics["oracle_connectivity_R2"] > 1 - 1e-9 and metrics["oracle_tau_R2"] > 1 - 1e-9
    assert "data_limited_reason" not in metrics and np.allclose(W_hat, arrays["W"], atol=1e-6)


def test_agrees_with_numpy_lstsq_per_neuron_on_noisy_targets():
    arrays = _network(seed=1)
    rng = np.random.default_rng(5)
    arrays["y"] = arrays["y"] + 0.1 * rng.standard_normal(arrays["y"].shape)
    ridge = 1e-3
    est = oracle.fit(arrays, input_gain=2.0, ridge=ridge)
    r = np.maximum(arrays["x"], 0)
    I = np.zeros_like(arrays["x"])
    I[:, :3] = 2.0 * arrays["stimulus"][:, arrays["node_col"][:3]]
    for i in range(arrays["x"].shape[1]):
        edges = np.flatnonzero(arrays["edge_tgt"] == i)
        X = r[:, arrays["edge_src"][edges]]
        z = arrays["tau"][i] * arrays["y"][:, i] + arrays["x"][:, i] - arrays["V_rest"][i] - I[:, i]
        rho = ridge * np.mean(np.sum(X**2, axis=0))
        A = np.vstack([X, np.sqrt(rho) * np.eye(len(edges))])
        expected = np.linalg.lstsq(A, np.concatenate([z, np.zeros(len(edges))]), rcond=None)[0]
        np.testing.assert_allclose(est["W"][edges], expected, rtol=1e-8, atol=1e-10)


def test_silent_senders_are_weak_and_lower_the_verdict():
    arrays = _network(seed=2)
    silent = np.array([4, 5, 6, 7, 8, 9])
    arrays["x"][:, silent] = -1.0  # never above threshold: their outgoing weights are invisible
    src, tgt, W = arrays["edge_src"], arrays["edge_tgt"], arrays["W"]
    msg = np.zeros_like(arrays["x"])
    np.add.at(msg.T, tgt, (W[:, None] * np.maximum(arrays["x"][:, src], 0).T))
    I = np.zeros_like(arrays["x"])
    I[:, :3] = 2.0 * arrays["stimulus"][:, arrays["node_col"][:3]]
    arrays["y"] = (-arrays["x"] + arrays["V_rest"] + msg + I) / arrays["tau"]
    metrics, W_hat = oracle.oracle_metrics(arrays, input_gain=2.0)
    from_silent = np.isin(src, silent)
    assert metrics["oracle_n_weak_edges"] >= from_silent.sum()
    assert np.all(W_hat[from_silent] == 0)
