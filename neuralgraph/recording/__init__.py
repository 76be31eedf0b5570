"""Recordings: activity measured by someone else, read from a file and made ready to fit.

``data=recording data.path=FILE`` replaces the simulator. The modules, in the order a run uses them:

- :mod:`.config` — the ``data`` block (``data=simulated``, the default, or ``data=recording``);
- :mod:`.files` — reading ``.npz`` / ``.npy`` / ``.csv`` (and ``.h5`` when h5py is installed)
  into a :class:`~neuralgraph.recording.files.RawRecording`;
- :mod:`.validate` — the checks, each failing with a one-line :class:`~neuralgraph.errors.DataError`
  naming the file and the problem;
- :mod:`.derivative` — smoothed states and their time derivatives from noisy, irregular samples
  with gaps (smoothing spline, Savitzky–Golay or finite differences);
- :mod:`.prepare` — trials split into training and held-out segments, resampled on a regular
  grid: the arrays a family's recording path trains on;
- :mod:`.demo` — a rate network integrated with scipy's ``solve_ivp`` (not NeuralGraph's
  integrator), sampled the way an experiment would be: the validation data of docs/recordings.md.

This package is on the floor: it imports no family. The data source that reads a recording is
:mod:`neuralgraph.sources.recording`; a family fits one when it has a truth-free scorer
(:attr:`neuralgraph.family.Family.truth_free`).
"""
