"""Errors and warnings raised by ADM validation.

Every refusal in :mod:`aesp.adm` is an :class:`AdmError`. It carries the path of the failing
field (``args.items[2].name``, ``parameters.properties.x.type``), a sentence a person can act on,
and, where one applies, the SPEC.md checklist item or gap resolution that the rule enforces
(``"4.1#6"`` is checklist item 6 of section 4.1; ``"C-19"`` is gap resolution C-19).
"""

from __future__ import annotations

__all__ = ["AdmError", "AdmWarning"]


class AdmError(ValueError):
    """An ADM structure, Schema or JSON value failed validation.

    It subclasses :class:`ValueError`, so callers that only care about "bad input" can catch
    that. The Host maps it to ``SCHEMA_VIOLATION``; LATER maps it to a ToolResult with
    ``error.type = PARAMETER_VALIDATION_FAILED`` (SPEC §5 C-14).

    Attributes:
        path: Where the problem is, e.g. ``args.items[2].name``. ``$`` means the whole document.
        reason: What is wrong, phrased so that a person (or a model) can fix it.
        rule: The SPEC.md rule enforced, e.g. ``"4.1#6"`` or ``"C-19"``; ``None`` if none applies.
    """

    def __init__(self, path: str, reason: str, *, rule: str | None = None) -> None:
        """Create the error.

        Args:
            path: Path of the failing field.
            reason: Human-readable explanation.
            rule: SPEC.md checklist item or gap id, if any.
        """
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.rule = rule

    def __str__(self) -> str:
        """Return ``"<path>: <reason>"``."""
        return f"{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[type[AdmError], tuple[str, str], dict[str, object]]:
        """Support pickling (exceptions cross process pools and are logged by workers)."""
        return (type(self), (self.path, self.reason), {"rule": self.rule})


class AdmWarning(UserWarning):
    """A SHOULD-level ADM rule was not met (e.g. an over-long description in LENIENT mode).

    Filter on this category to silence or escalate ADM advisories without touching other
    warnings.
    """
