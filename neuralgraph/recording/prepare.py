r"""From a validated recording to the arrays a family trains on and is scored with.

Each trial is cut into a training segment and a held-out segment: its last ``holdout_fraction``
of time, or the whole trial for the trials in ``data.holdout_trials``. Each segment is smoothed on
its own (:mod:`.derivative`), so no held-out sample shapes a training target. The smoothed states
u and derivatives du/dt are read on a regular grid of spacing Δt (``data.resample_dt``, else the
median sampling interval) from the segment's first to its last sample, less ``data.trim`` points
at each end; missing samples are bridged by the spline of their neuron. The stimulus is linearly
interpolated on the grid (it is known, not measured).

Arrays (the recording counterpart of a simulator's dataset):

- ``u``, ``du`` (frames, N) — training frames, every segment one after the other; ``e`` the
  stimulus there, when there is one; ``trial_bounds`` (segments + 1) where each segment starts;
- ``u_heldout``, ``du_heldout``, ``e_heldout``, ``heldout_bounds`` — the same for the held-out segments;
- ``delta_t`` — the grid spacing; ``mask`` (N, N), ``types`` (N,) — when the file gives them;
- ``neuron_index`` (N,) — the file's column of each neuron (unobserved columns are left out);
  ``neuron_names`` (N,) its name (a CSV header, else the column number);
- ``smoothing`` (N,) — the spline's λ per neuron (NaN for the other estimators);
- ``residual_fraction`` — rms(sample − smoothed) / std(samples) over the training samples: what the
  smoother took away (about the noise level, when it is right);
- ``missing_fraction``, ``sampling_spread`` (std / mean of the sampling intervals), ``n_unobserved``
  (neurons of the file without a sample), ``n_trials``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuralgraph.errors import DataError
from neuralgraph.recording import derivative
from neuralgraph.recording.config import Derivative, RecordingData
from neuralgraph.recording.validate import Recording, median_interval, recording


@dataclass
class Segment:
    """Samples ``start:stop`` of the recording; ``heldout`` for the prediction metrics."""

    trial: int
    start: int
    stop: int
    heldout: bool


def segments(rec: Recording, cfg: RecordingData) -> list[Segment]:
    """Training and held-out parts of every trial (see the module docstring)."""
    held = set(int(k) for k in cfg.holdout_trials)
    out = []
    for k in range(rec.n_trials):
        a, b = int(rec.bounds[k]), int(rec.bounds[k + 1])
        if held:
            out.append(Segment(k, a, b, k in held))
            continue
        t = rec.t[a:b]
        cut = a + int(np.searchsorted(t, t[0] + (1.0 - cfg.holdout_fraction) * (t[-1] - t[0])))
        out += [Segment(k, a, cut, False), Segment(k, cut, b, True)]
    return out


def grid_of(t: np.ndarray, step: float, trim: int, source: str, trial: int) -> np.ndarray:
    """Regular times from the first to the last sample, ``trim`` points dropped at each end."""
    n = int(np.floor((t[-1] - t[0]) / step * (1 + 1e-9))) + 1
    grid = t[0] + step * np.arange(n)
    if n - 2 * trim < 3:
        raise DataError(f"{source}: a segment of trial {trial} spans {n} grid points, too few to keep after "
                        f"trimming {trim} at each end; lower data.holdout_fraction or data.trim, or use "
                        "data.holdout_trials")
    return grid[trim : n - trim]


def smooth_segment(rec: Recording, seg: Segment, cfg: RecordingData, step: float,
                   lam: np.ndarray) -> tuple[np.ndarray, derivative.Smoothed]:
    """``(grid times, smoothed u/du on the grid and fitted samples)`` of one segment."""
    t, x = rec.t[seg.start : seg.stop], rec.x[seg.start : seg.stop]
    if cfg.derivative == Derivative.spline:
        if np.isfinite(x).sum(axis=0).min() < 5:
            raise DataError(f"{cfg.path}: a segment of trial {seg.trial} has a neuron with fewer than 5 samples; "
                            "lower data.holdout_fraction or use data.holdout_trials")
        grid = grid_of(t, step, cfg.trim, cfg.path, seg.trial)
        return grid, derivative.spline(t, x, grid, lam)
    if len(t) < max(2 * cfg.trim + 3, cfg.savgol_window if cfg.derivative == Derivative.savgol else 3):
        raise DataError(f"{cfg.path}: a segment of trial {seg.trial} has {len(t)} samples, too few for "
                        f"data.derivative={cfg.derivative.value}; lower data.holdout_fraction or data.trim")
    if cfg.derivative == Derivative.savgol:
        smoothed = derivative.savgol(x, step, cfg.savgol_window, cfg.savgol_order)
    else:
        smoothed = derivative.finite_difference(t, x)
    keep = slice(cfg.trim, len(t) - cfg.trim)
    return t[keep], derivative.Smoothed(smoothed.u[keep], smoothed.du[keep], smoothed.fitted)


def stimulus_on(rec: Recording, seg: Segment, grid: np.ndarray) -> np.ndarray:
    t, e = rec.t[seg.start : seg.stop], rec.stimulus[seg.start : seg.stop]
    return np.stack([np.interp(grid, t, e[:, i]) for i in range(e.shape[1])], axis=1)


def smoothing_per_neuron(rec: Recording, parts: list[Segment], cfg: RecordingData, h: float) -> np.ndarray:
    """λ per neuron: ``data.smoothing``, else cross-validated on the longest training segment."""
    n = rec.x.shape[1]
    if cfg.derivative != Derivative.spline:
        return np.full(n, np.nan)
    if cfg.smoothing > 0:
        return np.full(n, float(cfg.smoothing))
    longest = max((s for s in parts if not s.heldout), key=lambda s: s.stop - s.start)
    return derivative.choose_smoothing(rec.t[longest.start : longest.stop], rec.x[longest.start : longest.stop], h)


def _stack(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    sizes = [len(p) for p in pieces]
    return np.concatenate(pieces).astype(np.float32), np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def arrays_of(rec: Recording, cfg: RecordingData) -> dict[str, np.ndarray]:
    """The arrays of the module docstring."""
    h = median_interval(rec.t, rec.bounds)
    step = cfg.resample_dt if cfg.resample_dt > 0 else h
    parts = segments(rec, cfg)
    lam = smoothing_per_neuron(rec, parts, cfg, h)
    kept: dict[bool, dict[str, list]] = {False: {"u": [], "du": [], "e": []}, True: {"u": [], "du": [], "e": []}}
    residual, scale = [], []
    for seg in parts:
        grid, sm = smooth_segment(rec, seg, cfg, step, lam)
        into = kept[seg.heldout]
        into["u"].append(sm.u)
        into["du"].append(sm.du)
        if rec.stimulus is not None:
            into["e"].append(stimulus_on(rec, seg, grid))
        if not seg.heldout:
            raw = rec.x[seg.start : seg.stop]
            residual.append((raw - sm.fitted)[np.isfinite(raw)])
            scale.append(raw[np.isfinite(raw)])
    out: dict[str, np.ndarray] = {}
    for heldout, suffix in ((False, ""), (True, "_heldout")):
        part = kept[heldout]
        out["u" + suffix], bounds = _stack(part["u"])
        out["du" + suffix], _ = _stack(part["du"])
        out["heldout_bounds" if heldout else "trial_bounds"] = bounds
        if part["e"]:
            out["e" + suffix], _ = _stack(part["e"])
    residual, scale = np.concatenate(residual), np.concatenate(scale)
    intervals = np.concatenate([np.diff(rec.t[rec.trial(k)]) for k in range(rec.n_trials)])
    out.update({
        "delta_t": np.float64(step),
        "neuron_index": rec.neuron_index.astype(np.int64),
        "neuron_names": np.array(rec.names),
        "smoothing": lam,
        "residual_fraction": np.float64(np.sqrt(np.mean(residual**2)) / (np.std(scale) or 1.0)),
        "missing_fraction": np.float64(np.isnan(rec.x).mean()),
        "sampling_spread": np.float64(np.std(intervals) / np.mean(intervals)),
        "n_unobserved": np.int64(rec.n_columns - rec.x.shape[1]),
        "n_trials": np.int64(rec.n_trials),
    })
    if rec.mask is not None:
        out["mask"] = rec.mask.astype(np.float32)
    if rec.types is not None:
        out["types"] = rec.types
    return out


def load_recording(cfg: RecordingData) -> dict[str, np.ndarray]:
    """Read, check and prepare ``data.path``: the arrays of the module docstring."""
    return arrays_of(recording(cfg), cfg)
