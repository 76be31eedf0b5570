"""The ``data`` block of ``data=simulated``: no keys; the simulation block says what to simulate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SimulatedData:
    """The regime's simulator makes the data (cached by the simulation block's hash)."""


SCHEMA = SimulatedData
