"""The one error a sweep stops with when the user must act: Hydra prints its message alone.

Hydra prints a :class:`~hydra.errors.CompactHydraException` as its message, without the stack
trace (``HYDRA_FULL_ERROR=1`` shows it), so each reason to stop reads as one line naming what to
change. It is also a ``ValueError``, so callers that catch bad configurations catch it too.
"""

from __future__ import annotations

from hydra.errors import CompactHydraException


class SweepError(CompactHydraException, ValueError):
    """A sweep cannot start or must stop; the message says why and what to change."""
