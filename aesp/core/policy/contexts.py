"""Reuse one ``cel.Context`` per (tenant, tool, action) and re-convert only what changed.

Why: after flattening (:mod:`aesp.core.policy.flatten`), converting the variables is still
the largest part of a decision (~1 µs per string in ``common-expression-language``), yet most
of them are the same on every call of a bucket: the tenant's cost centre, the tool's
classification and risk, the organization data, often the user. A context keeps its converted
values, and ``add_variable`` replaces one, so the engine keeps the last context of each bucket
and replaces only the variables whose value differs.

Safety rules, because a stale value would be a wrong security decision:

* A value is compared through an immutable *snapshot* taken when it was bound: its exact type
  and value, never a reference to a mutable object the caller could change later. Only exact
  ``str``/``int``/``float``/``bool``/``bytes``/``None``/``datetime`` values, and lists or
  tuples of them, are snapshotted; anything else (maps, subclasses) is re-converted every call.
* ``float`` snapshots keep the sign of zero, ``datetime`` snapshots keep the UTC offset and
  ``fold`` (CEL keeps the offset, so equal instants in two zones are different values).
* A different set of variable names, or any conversion error, discards the cached context.
* Contexts are cached per thread (a context is mutated while it is used) and per policy set,
  in a bounded LRU.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from aesp.core.policy._cel import cel as _cel
from aesp.core.policy.matches import FUNCTION as MATCHES
from aesp.core.policy.matches import matches

if TYPE_CHECKING:
    import cel

__all__ = ["CONTEXT_CACHE_SIZE", "ContextCache"]

CONTEXT_CACHE_SIZE: Final = 512  # bounds memory per thread and set: one context per bucket
_IMMUTABLE: Final = frozenset({str, int, bool, bytes, type(None)})


def _snapshot(value: Any) -> object | None:
    """An immutable description of ``value`` that equals another only if CEL sees the same."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return (kind, value)
    if kind is float:
        return (kind, value, math.copysign(1.0, value))
    if kind is _dt.datetime:
        return (kind, value, value.utcoffset(), value.fold, value.tzinfo is None)
    if kind is list or kind is tuple:
        parts = []
        for item in value:
            part = None if type(item) is list or type(item) is tuple else _snapshot(item)
            if part is None:
                return None
            parts.append(part)
        return (kind, tuple(parts))
    return None


class _Entry:
    __slots__ = ("context", "snapshots", "values")

    def __init__(self, context: cel.Context, variables: Mapping[str, Any]) -> None:
        self.context = context
        self.snapshots = {n: _snapshot(v) for n, v in variables.items()}
        # The objects bound last: the very same immutable object again (a role tuple from
        # the principal's cached grants, a contract's classification) needs no snapshot.
        self.values = dict(variables)


class ContextCache(threading.local):
    """Per-thread LRU of contexts, keyed by the caller (the engine uses its bucket key)."""

    def __init__(self, size: int = CONTEXT_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[object, _Entry] = OrderedDict()

    def context(self, key: object, variables: Mapping[str, Any]) -> cel.Context:
        """A context binding exactly ``variables``.

        Raises:
            Exception: Whatever ``cel`` raises for a value it cannot convert (the entry is
                dropped first, so no half-updated context survives).
        """
        entry = self._entries.get(key)
        if entry is not None and entry.snapshots.keys() == variables.keys():
            try:
                values = entry.values
                for name, value in variables.items():
                    # NOTE: identity is enough only for immutable values: never a list (it may
                    # have changed in place), and only when a snapshot exists (a tuple holding
                    # only immutable scalars; a tuple holding a list has none).
                    if (
                        value is values[name]
                        and type(value) is not list
                        and entry.snapshots[name] is not None
                    ):
                        continue
                    snap = _snapshot(value)
                    if snap is None or snap != entry.snapshots[name]:
                        entry.context.add_variable(name, value)
                        entry.snapshots[name] = snap
                    values[name] = value
            except Exception:
                del self._entries[key]
                raise
            self._entries.move_to_end(key)
            return entry.context
        if entry is not None:
            del self._entries[key]
        context = _cel().Context(dict(variables))
        context.add_function(MATCHES, matches)  # rewritten conditions call it
        self._entries[key] = _Entry(context, variables)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return context
