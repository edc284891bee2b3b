"""Exception types for problems a user can fix.

The CLI prints a :class:`SciMLError` as one paragraph without a traceback (unless
``--debug``) and exits non-zero. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class SciMLError(Exception):
    """Base class: an error caused by input, config or environment, with a fix."""


class ConfigError(SciMLError):
    """A configuration value is unknown, of the wrong type, or out of range."""

    def __init__(self, key: str, message: str, source: str | Path | None = None):
        self.key = key
        self.detail = message
        self.source = str(source) if source is not None else None
        where = f" in {self.source}" if self.source else ""
        super().__init__(f"config key '{key}'{where}: {message}")


class DataError(SciMLError):
    """A data file is missing, unreadable or malformed.

    ``path`` names the file; ``record`` (a line number, an id, a residue...) names
    the offending record inside it when there is one; ``hint`` says how to fix it.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        record: str | int | None = None,
        hint: str | None = None,
    ):
        self.path = str(path)
        self.record = record
        self.reason = message
        self.hint = hint
        where = self.path if record is None else f"{self.path} (record {record})"
        text = f"{where}: {message}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


class ChecksumError(DataError):
    """A data file exists but its sha256 differs from the manifest."""


class TrainingError(SciMLError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""
