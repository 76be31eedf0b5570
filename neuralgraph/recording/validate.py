"""Checks on a recording's arrays, each failing with one line that names the file and the problem.

:func:`recording` turns the arrays read by :mod:`.files` into a :class:`Recording`: timestamps
made explicit, trials as index ranges, the known graph as a dense mask, and the neurons that
were never observed (every sample missing) left out — with a warning naming them, since they
still act on the others through the dynamics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralgraph.errors import DataError
from neuralgraph.recording.config import Derivative, RecordingData
from neuralgraph.recording.files import read_file, read_side_file

log = logging.getLogger(__name__)

#: Fewest samples a trial may have.
MIN_TRIAL_SAMPLES = 10


@dataclass
class Recording:
    """A validated recording; N counts the observed neurons only."""

    x: np.ndarray  # (samples, N) float64, NaN = missing
    t: np.ndarray  # (samples,) increasing within each trial
    bounds: np.ndarray  # (K + 1,) first sample of each trial, then the number of samples
    names: list[str]  # neuron names (CSV headers, else the column numbers of the file)
    neuron_index: np.ndarray  # (N,) column of each kept neuron in the file
    n_columns: int  # neurons in the file, unobserved ones included
    mask: np.ndarray | None  # (N, N) known graph [post, pre], 0/1
    types: np.ndarray | None  # (N,) integers
    stimulus: np.ndarray | None  # (samples, N)

    @property
    def n_trials(self) -> int:
        return len(self.bounds) - 1

    def trial(self, k: int) -> slice:
        return slice(int(self.bounds[k]), int(self.bounds[k + 1]))


def _fail(source: str, message: str) -> DataError:
    return DataError(f"{source}: {message}")


def activity(x: Any, source: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise _fail(source, f"activity x must be 2-D (samples x neurons), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise _fail(source, f"activity x must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.shape[1] < 2:
        raise _fail(source, f"activity x has {x.shape[1]} neuron(s); a network needs at least 2 "
                            "(is it transposed? x is samples x neurons)")
    bad = np.isinf(x)
    if bad.any():
        k, i = np.argwhere(bad)[0]
        raise _fail(source, f"activity x has {int(bad.sum())} infinite value(s), the first at sample {k}, "
                            f"neuron {i}; mark missing samples as NaN")
    return x


def trial_bounds(trial: Any, n: int, source: str) -> np.ndarray:
    """K + 1 indices from per-sample labels whose runs are contiguous (one trial when absent)."""
    if trial is None:
        return np.array([0, n], dtype=np.int64)
    trial = np.asarray(trial)
    if trial.shape != (n,):
        raise _fail(source, f"trial has shape {trial.shape}; it needs one label per sample, ({n},)")
    if not np.all(np.isfinite(trial)) or np.any(trial != np.round(trial)):
        raise _fail(source, "trial labels must be integers")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(trial) != 0) + 1])
    labels = trial[starts]
    seen, repeat = np.unique(labels, return_counts=True)
    if np.any(repeat > 1):
        again = seen[repeat > 1][0]
        second = starts[np.flatnonzero(labels == again)[1]]
        raise _fail(source, f"trial {again:g} appears again at sample {second}; the samples of a trial must be "
                            "contiguous")
    return np.concatenate([starts, [n]]).astype(np.int64)


def timestamps(t: Any, bounds: np.ndarray, cfg: RecordingData, source: str) -> np.ndarray:
    """Sample times, strictly increasing within each trial (``data.dt`` when the file has none)."""
    n = int(bounds[-1])
    if t is None:
        if cfg.dt <= 0:
            raise _fail(source, "no timestamps: add an array `t` (or a CSV column t), or set data.dt")
        return np.concatenate([cfg.dt * np.arange(b - a) for a, b in zip(bounds[:-1], bounds[1:])])
    if cfg.dt > 0:
        raise _fail(source, f"has timestamps t and data.dt={cfg.dt} is set too; drop one")
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (n,):
        raise _fail(source, f"t has shape {t.shape} but x has {n} samples")
    if not np.all(np.isfinite(t)):
        raise _fail(source, f"t has a non-finite value at sample {int(np.flatnonzero(~np.isfinite(t))[0])}")
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        step = np.diff(t[a:b])
        if np.any(step <= 0):
            j = a + int(np.flatnonzero(step <= 0)[0])
            raise _fail(source, f"time is not increasing in trial {k}: t[{j}]={t[j]:g}, t[{j + 1}]={t[j + 1]:g} "
                                "(label the trials with `trial` if the clock restarts)")
    return t


def check_trials(t: np.ndarray, bounds: np.ndarray, cfg: RecordingData, source: str) -> None:
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        if b - a < MIN_TRIAL_SAMPLES:
            raise _fail(source, f"trial {k} has {b - a} samples; every trial needs at least {MIN_TRIAL_SAMPLES}")
    n_trials = len(bounds) - 1
    held = sorted(set(int(k) for k in cfg.holdout_trials))
    if held and (held[0] < 0 or held[-1] >= n_trials):
        raise _fail(source, f"data.holdout_trials={held} but the file has trials 0 to {n_trials - 1}")
    if held and len(held) == n_trials:
        raise _fail(source, "data.holdout_trials holds out every trial; nothing is left to train on")


def median_interval(t: np.ndarray, bounds: np.ndarray) -> float:
    return float(np.median(np.concatenate([np.diff(t[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])))


def observed_neurons(x: np.ndarray, cfg: RecordingData, source: str) -> np.ndarray:
    """Columns with at least one sample; a column above ``data.max_missing`` missing is refused."""
    missing = np.isnan(x).mean(axis=0)
    kept = np.flatnonzero(missing < 1.0)
    dropped = np.flatnonzero(missing == 1.0)
    if dropped.size:
        log.warning("%s: neuron(s) %s have no sample and are left out; they still act on the others, which the "
                    "fit cannot see", source, ", ".join(map(str, dropped[:10])) + (" ..." if dropped.size > 10 else ""))
    if kept.size < 2:
        raise _fail(source, f"only {kept.size} neuron(s) have any sample; a network needs at least 2")
    over = kept[missing[kept] > cfg.max_missing]
    if over.size:
        i = int(over[0])
        raise _fail(source, f"neuron {i} misses {100 * missing[i]:.0f}% of its samples, above "
                            f"data.max_missing={cfg.max_missing:g} ({over.size} neuron(s) do)")
    return kept


def longest_gaps(x: np.ndarray, t: np.ndarray, bounds: np.ndarray, h: float, columns: np.ndarray,
                 cfg: RecordingData, source: str) -> None:
    """Refuse a run of missing samples longer than ``data.max_gap`` sampling intervals (trial ends
    included); ``columns`` are the file's column numbers of ``x``'s neurons, for the message."""
    limit = cfg.max_gap * h
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        seen = np.isfinite(x[a:b])
        for i in np.flatnonzero(~seen.all(axis=0)):
            times = t[a:b][seen[:, i]]
            if times.size == 0:
                raise _fail(source, f"neuron {columns[i]} has no sample in trial {k}; drop the trial or the neuron")
            edges = np.concatenate([[t[a]], times, [t[b - 1]]])
            gap = np.diff(edges)
            j = int(np.argmax(gap))
            if gap[j] > limit:
                raise _fail(source, f"neuron {columns[i]} has no sample from t={edges[j]:g} to "
                                    f"t={edges[j + 1]:g} in trial {k}, longer than data.max_gap={cfg.max_gap:g} "
                                    "sampling intervals; split the trial there or raise data.max_gap")


def regular(t: np.ndarray, bounds: np.ndarray, h: float) -> bool:
    step = np.concatenate([np.diff(t[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    return bool(np.max(np.abs(step - h)) <= 1e-6 * h)


def check_method(x: np.ndarray, t: np.ndarray, bounds: np.ndarray, h: float, cfg: RecordingData, source: str) -> None:
    """Savitzky–Golay and finite differences need what the spline does without: complete, evenly
    spaced samples (the model then trains on the samples themselves)."""
    if cfg.derivative == Derivative.spline:
        return
    if np.isnan(x).any():
        raise _fail(source, f"has missing samples; data.derivative={cfg.derivative.value} needs complete data "
                            "(use data.derivative=spline)")
    if cfg.resample_dt > 0:
        raise _fail(source, f"data.resample_dt is for data.derivative=spline; {cfg.derivative.value} keeps the samples")
    if not regular(t, bounds, h):
        raise _fail(source, f"sampling is irregular; data.derivative={cfg.derivative.value} needs evenly spaced "
                            "samples (use data.derivative=spline)")


def known_graph(fields: dict[str, Any], cfg: RecordingData, n_file: int, source: str) -> np.ndarray | None:
    """The known graph as an (N, N) 0/1 mask [post, pre], from ``mask``, ``edges`` or data.graph_path."""
    given = [key for key in ("mask", "edges") if key in fields] + (["data.graph_path"] if cfg.graph_path else [])
    if len(given) > 1:
        raise _fail(source, f"the graph is given twice ({' and '.join(given)}); keep one")
    if not given:
        return None
    if cfg.graph_path:
        array = read_side_file(cfg.graph_path, "graph")
        kind = "edges" if cfg.graph_path.lower().endswith(".csv") else "mask"
        source = cfg.graph_path
    else:
        kind = given[0]
        array = np.asarray(fields[kind])
    if kind == "mask":
        if array.shape != (n_file, n_file):
            raise _fail(source, f"mask has shape {array.shape}; it must be N x N = {n_file} x {n_file}")
        if not np.isin(array, (0, 1)).all():
            raise _fail(source, "mask must hold only 0 and 1 (or booleans)")
        return array.astype(np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise _fail(source, f"edges has shape {array.shape}; it must be (E, 2), rows (post, pre)")
    if np.any(array != np.round(array)) or np.any(array < 0) or np.any(array >= n_file):
        raise _fail(source, f"edges must be neuron indices in [0, {n_file - 1}] (columns of x, from 0)")
    mask = np.zeros((n_file, n_file))
    mask[array[:, 0].astype(int), array[:, 1].astype(int)] = 1.0
    return mask


def side_array(fields: dict[str, Any], key: str, path: str, source: str) -> tuple[np.ndarray | None, str]:
    if key in fields and path:
        raise _fail(source, f"{key} is in the file and data.{key}_path is set too; keep one")
    if path:
        return read_side_file(path, key), path
    return (np.asarray(fields[key]) if key in fields else None), source


def node_types(fields: dict[str, Any], cfg: RecordingData, n_file: int, source: str) -> np.ndarray | None:
    types, source = side_array(fields, "types", cfg.types_path, source)
    if types is None:
        return None
    types = np.asarray(types).reshape(-1)
    if types.shape != (n_file,):
        raise _fail(source, f"types has {types.size} entries; it needs one per neuron ({n_file})")
    if not np.all(np.isfinite(types.astype(np.float64))) or np.any(types != np.round(types)):
        raise _fail(source, "types must be integers")
    return types.astype(np.int64)


def stimulus(fields: dict[str, Any], cfg: RecordingData, shape: tuple[int, int], source: str) -> np.ndarray | None:
    e, source = side_array(fields, "stimulus", cfg.stimulus_path, source)
    if e is None:
        return None
    e = np.asarray(e, dtype=np.float64)
    if e.shape != shape:
        raise _fail(source, f"stimulus has shape {e.shape}; it must match x, {shape} (zero for undriven neurons)")
    if not np.all(np.isfinite(e)):
        raise _fail(source, "stimulus has missing or infinite values; it must be known at every sample")
    return e


def recording(cfg: RecordingData) -> Recording:
    """Read ``data.path`` (and its side files) and check everything; see the module docstring."""
    source = str(cfg.path)
    fields = read_file(cfg.path)
    x = activity(fields["x"], source)
    bounds = trial_bounds(fields.get("trial"), x.shape[0], source)
    t = timestamps(fields.get("t"), bounds, cfg, source)
    check_trials(t, bounds, cfg, source)
    h = median_interval(t, bounds)
    mask = known_graph(fields, cfg, x.shape[1], source)
    types = node_types(fields, cfg, x.shape[1], source)
    e = stimulus(fields, cfg, x.shape, source)
    keep = observed_neurons(x, cfg, source)
    x = x[:, keep]
    longest_gaps(x, t, bounds, h, keep, cfg, source)
    check_method(x, t, bounds, h, cfg, source)
    names = [str(fields["names"][i]) for i in keep] if "names" in fields else [str(i) for i in keep]
    return Recording(
        x=x, t=t, bounds=bounds, names=names, neuron_index=keep, n_columns=int(fields["x"].shape[1]),
        mask=None if mask is None else mask[np.ix_(keep, keep)],
        types=None if types is None else types[keep],
        stimulus=None if e is None else e[:, keep],
    )
