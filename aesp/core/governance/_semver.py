"""SemVer precedence for contract and policy versions (KD: "contract updates use SemVer").

Why here: enactment must refuse to replace an ACTIVE contract or policy with an older or equal
version (C-47, item 179), and restart replay picks the highest approved version of each
contract; both need one ordering.
"""

from __future__ import annotations

import re

__all__ = ["version_key"]

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?\Z")


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """A sortable key: a release sorts after its pre-releases; build metadata is ignored;
    a malformed version sorts before every valid one."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, -1, "")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""
