"""Reading, checking and preparing recordings (neuralgraph/recording/): formats, one-line errors,
derivative estimators, held-out segments. No training here (tests/test_recording_fit.py trains)."""

from __future__ import annotations

import numpy as np
import pytest

from neuralgraph.errors import DataError
from neuralgraph.recording import derivative
from neuralgraph.recording.config import Derivative, RecordingData
from neuralgraph.recording.prepare import load_recording
from neuralgraph.recording.validate import recording


def traces(n: int = 4, samples: int = 200, dt: float = 0.1, trials: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Smooth sinusoids, one per neuron, in ``trials`` trials whose clock restarts."""
    rng = np.random.default_rng(seed)
    per = samples // trials
    t = np.concatenate([dt * np.arange(per) for _ in range(trials)])
    phase = rng.uniform(0, 2 * np.pi, n)
    x = np.sin(t[:, None] + phase) + 0.5 * np.cos(0.7 * t[:, None] + 2 * phase)
    return {"x": x, "t": t, "trial": np.repeat(np.arange(trials), per)}


def save(tmp_path, name="rec.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def load(path, **kw):
    return load_recording(RecordingData(path=path, **kw))


def error_of(path, **kw) -> str:
    with pytest.raises(DataError) as err:
        load(path, **kw)
    message = str(err.value)
    assert "\n" not in message and str(path).split("/")[-1] in message  # one line, names the file
    return message


# ---- formats -----------------------------------------------------------------------------------
def test_npz_npy_and_csv_give_the_same_arrays(tmp_path):
    rec = traces(trials=1)
    from_npz = load(save(tmp_path, **rec))
    np.save(tmp_path / "x.npy", rec["x"])
    from_npy = load(str(tmp_path / "x.npy"), dt=0.1)
    header = "t," + ",".join(f"n{i}" for i in range(rec["x"].shape[1]))
    np.savetxt(tmp_path / "x.csv", np.column_stack([rec["t"], rec["x"]]), delimiter=",", header=header, comments="")
    from_csv = load(str(tmp_path / "x.csv"))
    for other in (from_npy, from_csv):
        np.testing.assert_allclose(other["u"], from_npz["u"], atol=1e-5)
        np.testing.assert_allclose(other["du"], from_npz["du"], atol=1e-4)


def test_csv_empty_cells_are_missing_samples(tmp_path):
    rec = traces(trials=1)
    rows = ["t,a,b,c,d"] + [",".join([f"{v:.6f}" for v in [t, *x]]) for t, x in zip(rec["t"], rec["x"])]
    rows[50] = ",".join(rows[50].split(",")[:2] + ["", *rows[50].split(",")[3:]])  # neuron b misses one sample
    (tmp_path / "gap.csv").write_text("\n".join(rows) + "\n")
    arrays = load(str(tmp_path / "gap.csv"))
    assert 0 < float(arrays["missing_fraction"]) < 0.01 and np.isfinite(arrays["u"]).all()


def test_h5_is_read_when_h5py_is_installed(tmp_path):
    h5py = pytest.importorskip("h5py")
    rec = traces()
    with h5py.File(tmp_path / "rec.h5", "w") as fh:
        for key, value in rec.items():
            fh[key] = value
    np.testing.assert_allclose(load(str(tmp_path / "rec.h5"))["u"], load(save(tmp_path, **rec))["u"])


# ---- one-line errors ---------------------------------------------------------------------------
BAD = {
    "x is 1-D": (lambda r: {**r, "x": r["x"][:, 0]}, {}, "2-D"),
    "one neuron": (lambda r: {**r, "x": r["x"][:, :1]}, {}, "at least 2"),
    "infinite value": (lambda r: {**r, "x": np.where(np.arange(200)[:, None] == 7, np.inf, r["x"])}, {}, "infinite"),
    "t too short": (lambda r: {**r, "t": r["t"][:-1]}, {}, "t has shape"),
    "time goes back": (lambda r: {**r, "t": np.where(np.arange(200) == 30, 0.0, r["t"])}, {}, "not increasing"),
    "trial not contiguous": (lambda r: {**r, "trial": np.where(np.arange(200) >= 190, 0, r["trial"])}, {},
                             "must be contiguous"),
    "unknown key": (lambda r: {**r, "time": r["t"]}, {}, "unknown array"),
    "t and dt": (lambda r: r, {"dt": 0.1}, "drop one"),
    "no time at all": (lambda r: {"x": r["x"]}, {}, "no timestamps"),
    "mask shape": (lambda r: {**r, "mask": np.ones((3, 3))}, {}, "N x N"),
    "mask values": (lambda r: {**r, "mask": 2 * np.ones((4, 4))}, {}, "only 0 and 1"),
    "edges out of range": (lambda r: {**r, "edges": np.array([[0, 1], [2, 9]])}, {}, "neuron indices"),
    "graph twice": (lambda r: {**r, "mask": np.ones((4, 4)), "edges": np.array([[0, 1]])}, {}, "given twice"),
    "types length": (lambda r: {**r, "types": np.zeros(3)}, {}, "one per neuron"),
    "types not integers": (lambda r: {**r, "types": np.full(4, 0.5)}, {}, "integers"),
    "stimulus shape": (lambda r: {**r, "stimulus": np.zeros((200, 3))}, {}, "must match x"),
    "stimulus NaN": (lambda r: {**r, "stimulus": np.full((200, 4), np.nan)}, {}, "missing or infinite"),
    "holdout trial": (lambda r: r, {"holdout_trials": [5]}, "holdout_trials"),
    "every trial held out": (lambda r: r, {"holdout_trials": [0, 1]}, "nothing is left"),
    "short trial": (lambda r: {**r, "trial": np.where(np.arange(200) >= 195, 2, r["trial"])}, {}, "at least 10"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_fail_with_one_line_naming_the_problem(tmp_path, case):
    change, kw, words = BAD[case]
    assert words in error_of(save(tmp_path, **change(traces())), **kw)


def test_missing_unreadable_and_foreign_files(tmp_path):
    assert "no such file" in error_of(str(tmp_path / "nowhere.npz"))
    (tmp_path / "broken.npz").write_bytes(b"not a zip file at all")
    assert "cannot be read" in error_of(str(tmp_path / "broken.npz"))
    (tmp_path / "rec.zarr").write_text("")
    assert "unknown format" in error_of(str(tmp_path / "rec.zarr"))
    (tmp_path / "bad.csv").write_text("t,a,b\n0,1,2\n0.1,oops,3\n")
    assert "'oops' is not a number" in error_of(str(tmp_path / "bad.csv"))


def test_missing_samples_too_many_or_in_a_long_gap(tmp_path):
    rec = traces()
    x = rec["x"].copy()
    x[::2, 1] = np.nan
    x[1::4, 1] = np.nan  # neuron 1 misses 75 %
    assert "neuron 1 misses 75%" in error_of(save(tmp_path, **{**rec, "x": x}))
    x = rec["x"].copy()
    x[20:40, 2] = np.nan  # two time units without a sample of neuron 2
    assert "neuron 2 has no sample from t=1.9 to t=4" in error_of(save(tmp_path, **{**rec, "x": x}))
    assert np.isfinite(load(save(tmp_path, **{**rec, "x": x}), max_gap=30)["u"]).all()  # bridged when allowed


def test_savgol_and_finite_differences_refuse_what_they_cannot_do(tmp_path):
    rec = traces()
    x = rec["x"].copy()
    x[10, 0] = np.nan
    assert "needs complete data" in error_of(save(tmp_path, **{**rec, "x": x}), derivative=Derivative.savgol)
    t = rec["t"] + np.where(np.arange(200) % 2, 0.01, 0.0)
    assert "irregular" in error_of(save(tmp_path, **{**rec, "t": t}), derivative=Derivative.finite_difference)


def test_an_unobserved_neuron_is_left_out_with_the_others_kept(tmp_path, caplog):
    rec = traces(n=5)
    x = rec["x"].copy()
    x[:, 3] = np.nan
    mask = np.ones((5, 5)) - np.eye(5)
    mask[0, 4] = 0
    arrays = load(save(tmp_path, **{**rec, "x": x, "mask": mask, "types": np.array([0, 0, 1, 1, 2])}))
    assert "no sample and are left out" in caplog.text
    assert arrays["u"].shape[1] == 4 and int(arrays["n_unobserved"]) == 1
    np.testing.assert_array_equal(arrays["neuron_index"], [0, 1, 2, 4])
    np.testing.assert_array_equal(arrays["types"], [0, 0, 1, 2])
    assert arrays["mask"][0, 3] == 0 and arrays["mask"].shape == (4, 4)


# ---- derivatives and segments ------------------------------------------------------------------
def test_spline_derivative_of_noisy_irregular_samples_with_gaps():
    rng = np.random.default_rng(1)
    t = np.cumsum(0.1 * rng.uniform(0.5, 1.5, 400))
    x = np.stack([np.sin(t), np.cos(1.3 * t)], axis=1)
    noisy = x + 0.01 * rng.standard_normal(x.shape)
    noisy[rng.random(x.shape) < 0.1] = np.nan
    grid = np.linspace(t[5], t[-5], 300)
    lam = derivative.choose_smoothing(t, noisy, 0.1)
    sm = derivative.spline(t, noisy, grid, lam)
    true_du = np.stack([np.cos(grid), -1.3 * np.sin(1.3 * grid)], axis=1)
    assert np.sqrt(np.mean((sm.du - true_du) ** 2)) < 0.05
    assert np.sqrt(np.mean((sm.u[:, 0] - np.sin(grid)) ** 2)) < 0.01


def test_savgol_and_finite_differences_on_regular_samples():
    t = 0.05 * np.arange(300)
    x = np.stack([np.sin(t), np.cos(t)], axis=1)
    sg = derivative.savgol(x, 0.05, 7, 3)
    fd = derivative.finite_difference(t, x)
    true_du = np.stack([np.cos(t), -np.sin(t)], axis=1)
    assert np.abs(sg.du[5:-5] - true_du[5:-5]).max() < 1e-4
    assert np.abs(fd.du[1:-1] - true_du[1:-1]).max() < 1e-3


@pytest.mark.parametrize("method", [Derivative.savgol, Derivative.finite_difference])
def test_regular_complete_samples_with_the_other_estimators(tmp_path, method):
    rec = traces(samples=400, dt=0.05)
    arrays = load(save(tmp_path, **rec), derivative=method)
    spline = load(save(tmp_path, **rec))
    assert arrays["u"].shape[1] == 4 and np.isnan(arrays["smoothing"]).all()
    assert float(arrays["delta_t"]) == pytest.approx(0.05)
    # same frames as the spline's grid here (regular samples): the derivatives agree
    np.testing.assert_allclose(arrays["du"], spline["du"], atol=2e-3)


def test_held_out_segments_are_the_end_of_each_trial_or_whole_trials(tmp_path):
    path = save(tmp_path, **traces(trials=4, samples=400))
    arrays = load(path, holdout_fraction=0.25, trim=0)
    assert len(arrays["trial_bounds"]) == 5 and len(arrays["heldout_bounds"]) == 5
    held = np.diff(arrays["heldout_bounds"])
    assert np.all(np.abs(held / (np.diff(arrays["trial_bounds"]) + held) - 0.25) < 0.05)
    whole = load(path, holdout_trials=[1, 3])
    assert len(whole["trial_bounds"]) == 3 and len(whole["heldout_bounds"]) == 3


def test_stimulus_is_carried_onto_the_grid(tmp_path):
    rec = traces()
    e = np.tile(np.linspace(0, 1, 200)[:, None], (1, 4))
    arrays = load(save(tmp_path, **rec, stimulus=e), resample_dt=0.05)
    assert arrays["e"].shape == arrays["u"].shape and arrays["e_heldout"].shape == arrays["u_heldout"].shape
    assert float(arrays["delta_t"]) == 0.05


def test_residual_fraction_reads_the_noise_level(tmp_path):
    rec = traces(n=6, samples=600, trials=1)
    rng = np.random.default_rng(3)
    sd = float(np.std(rec["x"]))
    noisy = rec["x"] + 0.05 * sd * rng.standard_normal(rec["x"].shape)
    frac = float(load(save(tmp_path, **{**rec, "x": noisy}))["residual_fraction"])
    assert 0.03 < frac < 0.06


def test_a_validated_recording_keeps_names_and_bounds(tmp_path):
    rec = recording(RecordingData(path=save(tmp_path, **traces(trials=3, samples=300))))
    assert rec.n_trials == 3 and rec.names == ["0", "1", "2", "3"]
    assert rec.trial(1) == slice(100, 200)
