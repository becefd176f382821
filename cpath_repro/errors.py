"""Errors a user can act on.

Every error the project raises on bad input is a :class:`UserError`: its message is one
sentence that names what was expected, where, and the way out. The CLI prints the message
(no traceback) and exits with :attr:`UserError.exit_code`.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing prerequisite, explained in one sentence."""

    exit_code = 2


class ParameterError(UserError, ValueError):
    """A notebook parameter is unknown, of the wrong type, or impossible."""


class DataNotFoundError(UserError, FileNotFoundError):
    """Real data or weights were expected at a local path and are not there."""


class IncompleteRunError(UserError):
    """A result in a run directory is missing, interrupted, failed or stale."""
