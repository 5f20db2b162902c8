"""The training layer's domain error, in a module light enough for any front door to import."""

from __future__ import annotations


class JobError(Exception):
    """A job cannot run as asked; the message says what to change."""
