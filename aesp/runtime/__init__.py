"""The Runtime SDK: serve LATER ``@tool`` functions to a GRID Host over mutual TLS 1.3."""

from __future__ import annotations

from aesp.runtime.runtime import Backoff, Runtime, run

__all__ = ["Backoff", "Runtime", "run"]
