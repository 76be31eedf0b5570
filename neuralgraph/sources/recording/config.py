"""The ``data`` block of ``data=recording``: the file and how to prepare it."""

from neuralgraph.recording.config import RecordingData

SCHEMA = RecordingData
