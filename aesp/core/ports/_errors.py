"""Errors that several ports raise for the same condition, so the core catches each in one way.

They are storage outcomes, not client-visible codes: the core decides what a caller sees (for
example ``DuplicateError`` on ``CreateServiceAccount`` is a refusal naming the taken name, while
a ``ConcurrentChangeError`` inside an approval workflow is retried after a fresh read).
"""

from __future__ import annotations


class DuplicateError(ValueError):
    """A record with the same unique key already exists (a service account name in a tenant, an
    approval request id); nothing was stored."""


class NotFoundError(LookupError):
    """A write named a record the store does not hold. Reads never raise it: they return None."""


class ConcurrentChangeError(Exception):
    """A compare-and-set lost: the stored version is not the one the caller read.

    Another writer (possibly another Host replica on the same store) changed the record between
    the caller's read and its write. Nothing was written. The caller reads the record again,
    re-decides on what it now sees and retries, or reports the conflict; it must never retry the
    same write blindly, since the decision it made was based on a state that no longer exists.

    Attributes:
        expected: The version the caller passed.
        actual: The version the store holds.
    """

    def __init__(self, what: str, *, expected: int, actual: int) -> None:
        super().__init__(
            f"{what} is at version {actual}, not the expected {expected}: it was changed "
            "concurrently; read it again and retry"
        )
        self.expected = expected
        self.actual = actual
