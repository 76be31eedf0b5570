"""Errors a user can fix: each message names the key or file to change."""


class NeuralGraphError(Exception):
    """Base class for errors reported to the user as one line, without a traceback."""


class ConfigError(NeuralGraphError):
    """A config value is invalid (wrong range, inconsistent with another key, unknown name)."""


class DataError(NeuralGraphError):
    """A dataset or an input file cannot be read or has the wrong shape or content."""
