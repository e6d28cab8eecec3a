"""Execution modes and their precedence: where a tool call runs (SPEC §2.11, item 134, C-26).

Why: the same call may go to the Host (``REMOTE``), run here under a Host authorisation
(``GOVERNED_LOCAL``, F6), or run here with no Host involvement (``LOCAL_FIRST``, ``LOCAL_ONLY``).
Which one applies is decided by the most specific setting: tool > session > client > global.

C-26: ungoverned local execution bypasses central audit, so in AESP deployments only ``REMOTE``
and ``GOVERNED_LOCAL`` are allowed. :class:`ModePolicy` refuses the other two unless built with
``allow_ungoverned=True``, and every ungoverned execution logs a warning (STYLE 11).
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["GOVERNED_MODES", "ExecutionMode", "ModePolicy", "Route", "route"]


class ExecutionMode(enum.StrEnum):
    """Where a call runs (GRID §7.4.3)."""

    REMOTE = "remote"
    """Always through the Host; never executes locally."""
    GOVERNED_LOCAL = "governed_local"
    """Authorise with the Host, execute locally, log the result (F6); remote if not local."""
    LOCAL_FIRST = "local_first"
    """Ungoverned: execute locally if the tool is registered here, else remote."""
    LOCAL_ONLY = "local_only"
    """Ungoverned: execute locally; fail if the tool is not registered here."""


GOVERNED_MODES: Final = frozenset({ExecutionMode.REMOTE, ExecutionMode.GOVERNED_LOCAL})
"""The modes an AESP deployment allows (C-26)."""


class ModePolicy:
    """Resolves the execution mode of a call: tool > session > client > global (item 134).

    Args:
        global_mode: The deployment-wide default.
        client_mode: This client's setting (None: use the global mode).
        allow_ungoverned: Allow ``LOCAL_FIRST``/``LOCAL_ONLY`` (not AESP-conformant, C-26).

    Raises:
        ValueError: An ungoverned mode without ``allow_ungoverned``.
    """

    def __init__(
        self,
        *,
        global_mode: ExecutionMode = ExecutionMode.REMOTE,
        client_mode: ExecutionMode | None = None,
        allow_ungoverned: bool = False,
    ) -> None:
        self.allow_ungoverned = allow_ungoverned
        self._global = self._require(global_mode)
        self._client = self._check(client_mode)
        self._sessions: dict[str, ExecutionMode] = {}
        self._tools: dict[str, ExecutionMode] = {}

    def set_client(self, mode: ExecutionMode | None) -> None:
        """Set (or with None clear) the client-level mode."""
        self._client = self._check(mode)

    def set_session(self, session_id: str, mode: ExecutionMode | None) -> None:
        """Set (or with None clear) the mode of one session."""
        self._put(self._sessions, session_id, mode)

    def set_tool(self, name: str, mode: ExecutionMode | None) -> None:
        """Set (or with None clear) the mode of one tool."""
        self._put(self._tools, name, mode)

    def resolve(self, session_id: str, name: str) -> ExecutionMode:
        """The mode of a call of ``name`` in ``session_id``: the most specific setting wins."""
        for mode in (self._tools.get(name), self._sessions.get(session_id), self._client):
            if mode is not None:
                return mode
        return self._global

    def _put(self, table: dict[str, ExecutionMode], key: str, mode: ExecutionMode | None) -> None:
        if mode is None:
            table.pop(key, None)
        else:
            table[key] = self._require(mode)

    def _check(self, mode: ExecutionMode | None) -> ExecutionMode | None:
        return None if mode is None else self._require(mode)

    def _require(self, mode: ExecutionMode) -> ExecutionMode:
        mode = ExecutionMode(mode)
        if mode not in GOVERNED_MODES and not self.allow_ungoverned:
            raise ValueError(
                f"execution mode {mode.value!r} bypasses the Host's authorisation and audit; an "
                "AESP deployment allows only 'remote' and 'governed_local' (C-26). Pass "
                "allow_ungoverned=True to ModePolicy to use it anyway."
            )
        return mode


class Route(enum.Enum):
    """What to do with one call, given its mode and whether the tool is registered here."""

    REMOTE = "remote"
    GOVERNED = "governed"
    UNGOVERNED = "ungoverned"
    UNAVAILABLE = "unavailable"


def route(mode: ExecutionMode, *, local: bool) -> Route:
    """Decide where a call runs (item 134).

    ``REMOTE`` never runs here. ``GOVERNED_LOCAL`` and ``LOCAL_FIRST`` fall back to a remote call
    when the tool is not registered here (item 126). ``LOCAL_ONLY`` fails instead.

    Args:
        mode: The resolved mode.
        local: Whether the tool is registered in this process.

    Returns:
        The route.
    """
    if mode is ExecutionMode.REMOTE:
        return Route.REMOTE
    if not local:
        return Route.UNAVAILABLE if mode is ExecutionMode.LOCAL_ONLY else Route.REMOTE
    return Route.GOVERNED if mode is ExecutionMode.GOVERNED_LOCAL else Route.UNGOVERNED
