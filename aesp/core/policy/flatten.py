"""Rewrite a condition to read flat variables, so a call converts only the leaves it needs.

Why: ``common-expression-language`` converts Python values to CEL by trying one type after
another, so every string, every nested map and every map *key* costs about a microsecond,
and the C-33 ``request`` is a map of maps (notes §F measured ~55 µs for a full one). Binding
each leaf a condition reads as its own top-level variable (``request.user.roles`` becomes
``aesp__Srequest__Suser__Sroles``) skips the maps and their keys and halves the per-call
conversion, and lets the engine convert only those leaves.

Rules (every reference comes from :func:`aesp.core.policy.refs.scan`, so string literals and
comments are never touched):

1. ``request.time``, ``request.source_ip``, ``request.action`` and ``organization.<key>`` become
   one variable each; ``request.<section>.<field>`` (user, tenant, resource, session, args)
   becomes one variable per field; anything after the rewritten prefix stays as written
   (``request.args.items[0].name`` → ``<var of request.args.items>[0].name``).
2. Inside ``has()`` the last field must stay a field selection, so ``has(request.args.note)``
   becomes ``has(<var of request.args>.note)``, with that map projected to the keys read.
3. A chain that cannot be flattened (bare ``request``, ``request[k]``) binds the whole root.

A missing value stays unbound, so a condition reading it still fails (undeclared variable
instead of missing key): the fail-closed behaviour is unchanged. :func:`variable_path` maps
names back for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from aesp.core.policy.refs import Reference

__all__ = ["PREFIX", "Binding", "Needs", "readable", "rewrite", "variable_name", "variable_path"]

PREFIX: Final = "aesp__"
_SCALAR_SECTIONS: Final = frozenset({"time", "source_ip", "action"})
_MAP_SECTIONS: Final = frozenset({"user", "tenant", "resource", "session", "args"})
_PLAIN = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*\Z")
_NAME = re.compile(PREFIX + r"[A-Za-z0-9_]+")


def _encode(segment: str) -> str:
    # NOTE: 'S' + a plain segment or 'H' + hex; plain segments never contain '__', so the
    # '__'-joined name decodes unambiguously (two paths never share a variable).
    return "S" + segment if _PLAIN.match(segment) else "H" + segment.encode().hex()


def variable_name(root: str, path: tuple[str, ...]) -> str:
    """The CEL variable bound to ``root.path`` (the root's own name for an empty path)."""
    if not path:
        return root
    return PREFIX + "__".join(_encode(s) for s in (root, *path))


def variable_path(name: str) -> str:
    """``request.user.roles`` for the variable of that path; ``name`` if it is not one."""
    if not name.startswith(PREFIX):
        return name
    parts = []
    for enc in name[len(PREFIX) :].split("__"):
        kind, body = enc[:1], enc[1:]
        if kind == "S":
            parts.append(body)
        elif kind == "H":
            try:
                parts.append(bytes.fromhex(body).decode())
            except ValueError:
                return name
        else:
            return name  # another name of ours (the matches() function), not a variable
    return ".".join(parts)


def readable(text: str) -> str:
    """``text`` with every flat variable name replaced by its dotted path."""
    return _NAME.sub(lambda m: variable_path(m.group()), text)


@dataclass(frozen=True, slots=True)
class Binding:
    """One variable to bind per call.

    Attributes:
        root: ``request`` or ``organization``.
        path: Where the value is, below the root.
        keys: Project a map value to these keys; None binds the value whole.
    """

    root: str
    path: tuple[str, ...]
    keys: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Needs:
    """The variables a set of conditions reads, by name."""

    bindings: Mapping[str, Binding]

    @classmethod
    def none(cls) -> Needs:
        """Nothing to bind."""
        return cls({})

    def union(self, other: Needs) -> Needs:
        """Both sets; a name bound whole in either is bound whole."""
        merged = dict(self.bindings)
        for name, binding in other.bindings.items():
            mine = merged.get(name)
            if mine is None:
                merged[name] = binding
            elif mine.keys is not None:
                keys = None if binding.keys is None else mine.keys | binding.keys
                merged[name] = Binding(mine.root, mine.path, keys)
        return Needs(merged)


def _depth(ref: Reference) -> int:
    """How many path elements of ``ref`` become part of its variable (rules 1-3)."""
    path = ref.path
    if not path:
        depth = 0
    elif ref.root == "organization" or path[0] in _SCALAR_SECTIONS:
        depth = 1
    elif path[0] not in _MAP_SECTIONS:
        depth = 0  # not a C-33 section: the checks refuse it; bind the root
    elif len(path) == 1 or path[1] == "[]":
        depth = 1
    else:
        depth = 2
    # Rule 2: has() tests a field, so its last element stays a selection.
    return min(depth, len(path) - 1) if ref.in_has else depth


def rewrite(source: str, references: Iterable[Reference]) -> tuple[str, Needs]:
    """The flattened source and the variables it reads.

    The caller must not use it when a comprehension variable is named like a root (the scan
    cannot tell them apart), and compiles the result, keeping the original on any failure.
    """
    edits: list[tuple[int, int, str]] = []
    bindings: dict[str, Binding] = {}
    for ref in references:
        depth = _depth(ref)
        prefix = ref.path[:depth]
        has_field = ref.in_has and len(ref.path) == depth + 1
        keys: frozenset[str] | None = frozenset(ref.path[depth : depth + 1]) if has_field else None
        name = variable_name(ref.root, prefix)
        if depth:
            edits.append((ref.start, ref.ends[depth], name))
        needs = Needs({name: Binding(ref.root, prefix, keys)})
        bindings = dict(Needs(bindings).union(needs).bindings)
    out = source
    for start, end, name in sorted(edits, reverse=True):
        out = out[:start] + name + out[end:]
    return out, Needs(bindings)
